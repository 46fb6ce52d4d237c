/**
 * A stand-in for the gateway's process, run as a script
 * (`node --import tsx test/helpers/embedded-host.ts <rtmpPort> <httpPort>`):
 * starts the embedded server and prints `{"pid":<its process>}` on stdout,
 * then waits to be killed. Lets a test kill the "gateway" abruptly and watch
 * whether the embedded server's process outlives it.
 */
import { startEmbeddedServer } from '../../src/rtmp/embedded.js';
import { silentLogger } from '../../src/shared/logger.js';

const [rtmpPort, httpPort] = process.argv.slice(2).map(Number);
if (rtmpPort === undefined || httpPort === undefined) throw new Error('usage: embedded-host.ts <rtmpPort> <httpPort>');
const server = await startEmbeddedServer({ host: '127.0.0.1', rtmpPort, httpPort, app: 'live', log: silentLogger() });
process.stdout.write(`${JSON.stringify({ pid: server.pid })}\n`);
// Stopped politely, it stops its server; the test kills it with SIGKILL instead.
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
