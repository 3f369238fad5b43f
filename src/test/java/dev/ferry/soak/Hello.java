package dev.ferry.soak;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;

/**
 * The soak's only wire protocol: the first 20 bytes an upstream sends (upstream to client) announce what it will do
 * with this connection, so a client that behaves well can act on it and the soak can match both ends of a stream by
 * its token. Client bytes are never parsed: garbage cannot confuse an upstream.
 * <pre>
 *   int magic "FRY1" | byte behaviour | byte backend | short 0 | long token | int param
 * </pre>
 * {@code param} is the source size ({@link UpstreamBehaviour#SOURCE}) or n (RST/close after n bytes).
 */
record Hello(UpstreamBehaviour behaviour, int backend, long token, int param) {

  static final int SIZE = 20;
  static final int MAGIC = 0x46525931;

  byte[] encode() {
    return ByteBuffer.allocate(SIZE).putInt(MAGIC).put((byte) behaviour.ordinal()).put((byte) backend)
      .putShort((short) 0).putLong(token).putInt(param).array();
  }

  /**
   * Reads a hello. Returns null at end of stream before a full hello (the connection was closed before an upstream
   * spoke, e.g. connect failed or a stalled upstream hit the idle timeout).
   *
   * @throws CorruptHello when 20 bytes arrived but are not a hello: the proxy altered the stream
   */
  static Hello read(InputStream in) throws IOException {
    byte[] b = in.readNBytes(SIZE);
    if (b.length < SIZE) {
      return null;
    }
    ByteBuffer buf = ByteBuffer.wrap(b);
    int magic = buf.getInt();
    int behaviour = buf.get();
    int backend = buf.get();
    buf.getShort();
    long token = buf.getLong();
    int param = buf.getInt();
    if (magic != MAGIC || behaviour < 0 || behaviour >= UpstreamBehaviour.values().length) {
      throw new CorruptHello(java.util.HexFormat.of().formatHex(b));
    }
    return new Hello(UpstreamBehaviour.values()[behaviour], backend, token, param);
  }

  /** The first bytes from the upstream were not a hello. */
  static final class CorruptHello extends IOException {
    CorruptHello(String hex) {
      super("corrupt hello from upstream: " + hex);
    }
  }
}
