package dev.ferry.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;

/**
 * One end of a TCP connection held by a test (a client of Ferry, or a connection a {@link Backend} accepted),
 * with plain blocking JDK sockets so the test controls exactly what goes on the wire: FIN, RST, silence.
 */
public final class Peer implements AutoCloseable {

  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  public Peer(Socket socket) throws IOException {
    this.socket = socket;
    this.socket.setSoTimeout((int) Await.DEFAULT.toMillis());
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
  }

  public static Peer connect(int port) throws IOException {
    return connect(port, 0);
  }

  /**
   * Connects with a receive buffer of {@code receiveBuffer} bytes (0: the system's), set before the handshake so the
   * window it announces is small: a peer that does not read then stops its sender quickly.
   */
  public static Peer connect(int port, int receiveBuffer) throws IOException {
    Socket s = new Socket();
    if (receiveBuffer > 0) {
      s.setReceiveBufferSize(receiveBuffer);
    }
    s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
    s.setTcpNoDelay(true);
    return new Peer(s);
  }

  public int localPort() {
    return socket.getLocalPort();
  }

  public Socket socket() {
    return socket;
  }

  public Peer write(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
    return this;
  }

  public Peer write(String text) throws IOException {
    return write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  public byte[] readExactly(int n) throws IOException {
    byte[] buf = in.readNBytes(n);
    if (buf.length != n) {
      throw new IOException("stream ended after " + buf.length + " of " + n + " bytes");
    }
    return buf;
  }

  public String readExactlyText(int n) throws IOException {
    return new String(readExactly(n), java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Reads until end of stream; returns the SHA-256 and the count. Pauses {@code pause} every 64 KiB to be slow. */
  public Digest readToEnd(Duration pauseEvery64k) throws IOException {
    MessageDigest md = sha256();
    byte[] buf = new byte[16 * 1024];
    long total = 0;
    long sinceNap = 0;
    int n;
    while ((n = in.read(buf)) >= 0) {
      md.update(buf, 0, n);
      total += n;
      sinceNap += n;
      if (!pauseEvery64k.isZero() && sinceNap >= 64 * 1024) {
        sinceNap = 0;
        nap(pauseEvery64k);
      }
    }
    return new Digest(md.digest(), total);
  }

  /** Sends a FIN: no more bytes from this side. */
  public void finish() throws IOException {
    socket.shutdownOutput();
  }

  /** Aborts with an RST (SO_LINGER 0, then close). */
  public void reset() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  /**
   * Asserts the other side closed this connection (end of stream or reset) within the default wait, discarding
   * any bytes still in flight.
   */
  public void awaitClosedByPeer() throws IOException {
    byte[] buf = new byte[8192];
    long deadline = System.nanoTime() + Await.DEFAULT.toNanos();
    try {
      while (in.read(buf) >= 0) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("peer kept the connection open (local port " + localPort() + ")");
        }
      }
    } catch (SocketTimeoutException e) {
      throw new AssertionError("peer did not close the connection within " + Await.DEFAULT.toMillis() + " ms");
    } catch (IOException e) {
      // Reset by peer: closed as well.
    }
  }

  /** True if nothing arrives and the connection stays open for {@code quiet}. */
  public boolean staysOpenFor(Duration quiet) throws IOException {
    socket.setSoTimeout((int) quiet.toMillis());
    try {
      in.read();
      return false;
    } catch (SocketTimeoutException e) {
      return true;
    } finally {
      socket.setSoTimeout((int) Await.DEFAULT.toMillis());
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }

  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** {@code n} pseudo-random bytes, the same for the same seed: test payloads that a digest can check. */
  public static byte[] randomBytes(int n, long seed) {
    byte[] b = new byte[n];
    new java.util.Random(seed).nextBytes(b);
    return b;
  }

  public static void nap(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** A SHA-256 over a byte stream and its length. */
  public record Digest(byte[] sha256, long bytes) {
    public static Digest of(byte[] data) {
      return new Digest(Peer.sha256().digest(data), data.length);
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Digest d && d.bytes == bytes && Arrays.equals(d.sha256, sha256);
    }

    @Override
    public int hashCode() {
      return Arrays.hashCode(sha256) * 31 + Long.hashCode(bytes);
    }

    @Override
    public String toString() {
      return bytes + " bytes, sha256 " + java.util.HexFormat.of().formatHex(sha256, 0, 8) + "...";
    }
  }
}
