import { describe, it, expect } from 'vitest';
import { splitStreamUrl } from '../../../src/rtmp/url.js';
import { ParseError } from '../../../src/shared/errors.js';

describe('splitStreamUrl', () => {
  it('takes the last path segment as the key and keeps instance and query on the server URL', () => {
    expect(splitStreamUrl('rtmp://a.example:1936/live/key1')).toEqual({ url: 'rtmp://a.example:1936/live', streamName: 'key1' });
    expect(splitStreamUrl('rtmps://b.example/app/_definst_/k%20x?token=1')).toEqual({ url: 'rtmps://b.example/app/_definst_?token=1', streamName: 'k x' });
  });

  it('throws ParseError without an application, a key, or an RTMP scheme', () => {
    for (const u of ['rtmp://h/onlyapp', 'rtmp://h/', 'http://h/app/key', 'not a url']) expect(() => splitStreamUrl(u)).toThrow(ParseError);
  });
});
