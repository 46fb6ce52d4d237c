/** RFC 5168 §3 media control: the INFO body asking a far end's encoder for a picture refresh. */
export const PICTURE_FAST_UPDATE = '<?xml version="1.0" encoding="utf-8" ?>\r\n<media_control><vc_primitive><to_encoder>'
  + '<picture_fast_update></picture_fast_update></to_encoder></vc_primitive></media_control>\r\n';
