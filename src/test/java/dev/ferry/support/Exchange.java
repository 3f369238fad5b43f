package dev.ferry.support;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

/**
 * The "send, then read until EOF" exchange of a batch or RPC client ({@code nc -N}, {@code socat}): the client sends
 * a request and its FIN, then reads the answer to the end; the server reads the request to its end, then answers with
 * the request's SHA-256 as a hex line followed by a body, and closes. Through a proxy without half-close the answer is
 * lost: the client's FIN ends the whole connection.
 */
public final class Exchange {

  private Exchange() {
  }

  /** The server side, as a {@link Backend} behaviour: answers every request with its digest line and {@code body}. */
  public static Backend.Behaviour server(byte[] body) {
    return peer -> {
      String digest = HexFormat.of().formatHex(drain(peer.socket().getInputStream()));
      peer.write((digest + "\n").getBytes(StandardCharsets.US_ASCII));
      peer.write(body);
      peer.close();
    };
  }

  /** What a client must receive for {@code request}: the digest line, then the body. */
  public static byte[] expectedAnswer(byte[] request, byte[] body) {
    byte[] line = (HexFormat.of().formatHex(Peer.sha256().digest(request)) + "\n").getBytes(StandardCharsets.US_ASCII);
    byte[] answer = new byte[line.length + body.length];
    System.arraycopy(line, 0, answer, 0, line.length);
    System.arraycopy(body, 0, answer, line.length, body.length);
    return answer;
  }

  /** The client side on {@code client}: sends {@code request}, its FIN, and reads the answer to the end. */
  public static Peer.Digest run(Peer client, byte[] request) throws IOException {
    client.write(request);
    client.finish();
    return client.readToEnd(java.time.Duration.ZERO);
  }

  private static byte[] drain(InputStream in) throws IOException {
    MessageDigest md = Peer.sha256();
    byte[] buf = new byte[16 * 1024];
    int n;
    while ((n = in.read(buf)) >= 0) {
      md.update(buf, 0, n);
    }
    return md.digest();
  }
}
