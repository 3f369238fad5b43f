package dev.ferry.admin;

import dev.ferry.support.Peer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * HTTP/1.1 by hand over a {@link Peer}, for what a well-behaved client cannot send: a path the JDK's URI refuses,
 * half a header, a keep-alive connection left silent.
 */
final class RawHttp {

  private RawHttp() {
  }

  /** The request line and headers of a GET (or other method) with a Host header, ending in the empty line. */
  static String request(String method, String path, String... headers) {
    StringBuilder b = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: ferry\r\n");
    for (String h : headers) {
      b.append(h).append("\r\n");
    }
    return b.append("\r\n").toString();
  }

  /** One response read off {@code peer}: status line, headers and a Content-Length body. */
  record Response(int status, String head, String body) {
  }

  static Response read(Peer peer) throws IOException {
    InputStream in = peer.socket().getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int c = in.read();
      if (c < 0) {
        throw new IOException("connection ended inside a response head: " + head);
      }
      head.write(c);
      matched = (c == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (c == '\r' ? 1 : 0);
    }
    String h = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : h.split("\r\n")) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).strip());
      }
    }
    String body = new String(peer.readExactly(length), StandardCharsets.UTF_8);
    return new Response(Integer.parseInt(h.substring(9, 12)), h, body);
  }

  /** Sends {@code request} on a new connection and reads one response. */
  static Response exchange(int port, String request) throws IOException {
    try (Peer peer = Peer.connect(port)) {
      peer.write(request);
      return read(peer);
    }
  }
}
