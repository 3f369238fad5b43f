package dev.ferry.support;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A TLS client driven by hand (the JDK's {@link SSLEngine} over a plain {@link Peer}), for what an SSLSocket will not
 * do: send its first ClientHello bytes alone, or send a fatal alert in the middle of a session.
 */
public final class EngineClient {

  private final Peer peer;
  private final SSLEngine engine;
  private final ByteBuffer netIn;
  private final ByteBuffer appIn;

  public EngineClient(Peer peer, SSLContext context, String serverName) {
    this.peer = peer;
    this.engine = context.createSSLEngine(serverName, 443);
    engine.setUseClientMode(true);
    this.netIn = ByteBuffer.allocate(engine.getSession().getPacketBufferSize() * 4);
    this.appIn = ByteBuffer.allocate(engine.getSession().getApplicationBufferSize() * 4);
  }

  /** The ClientHello as it would go on the wire, not sent. */
  public static byte[] clientHello(SSLContext context, String serverName) throws SSLException {
    SSLEngine e = context.createSSLEngine(serverName, 443);
    e.setUseClientMode(true);
    ByteBuffer out = ByteBuffer.allocate(e.getSession().getPacketBufferSize());
    e.wrap(ByteBuffer.allocate(0), out);
    out.flip();
    byte[] hello = new byte[out.remaining()];
    out.get(hello);
    return hello;
  }

  /** Runs the handshake to its end over the peer. */
  public void handshake() throws IOException {
    engine.beginHandshake();
    ByteBuffer netOut = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    for (int step = 0; step < 100; step++) {
      switch (engine.getHandshakeStatus()) {
        case NEED_WRAP -> {
          netOut.clear();
          engine.wrap(ByteBuffer.allocate(0), netOut);
          send(netOut);
        }
        case NEED_UNWRAP, NEED_UNWRAP_AGAIN -> unwrapMore();
        case NEED_TASK -> {
          Runnable task;
          while ((task = engine.getDelegatedTask()) != null) {
            task.run();
          }
        }
        case FINISHED, NOT_HANDSHAKING -> {
          return;
        }
      }
    }
    throw new IOException("the handshake did not finish in 100 steps");
  }

  /** Sends {@code plain} as application data. */
  public void write(byte[] plain) throws IOException {
    ByteBuffer netOut = ByteBuffer.allocate(engine.getSession().getPacketBufferSize() * 2);
    engine.wrap(ByteBuffer.wrap(plain), netOut);
    send(netOut);
  }

  /**
   * Sends a fatal alert, as a TLS client does when a record it receives does not decrypt: its engine is handed a
   * record of noise (never from the wire), fails it ({@code bad_record_mac}) and wraps the alert it then owes.
   */
  public void sendFatalAlert() throws IOException {
    byte[] noise = new byte[5 + 64];
    Arrays.fill(noise, (byte) 0x5a);
    noise[0] = 0x17;
    noise[1] = 0x03;
    noise[2] = 0x03;
    noise[3] = 0;
    noise[4] = 64;
    try {
      engine.unwrap(ByteBuffer.wrap(noise), ByteBuffer.allocate(engine.getSession().getApplicationBufferSize()));
      throw new IOException("the engine accepted a record of noise");
    } catch (SSLException expected) {
      // It owes its peer the alert now.
    }
    ByteBuffer netOut = ByteBuffer.allocate(engine.getSession().getPacketBufferSize());
    engine.wrap(ByteBuffer.allocate(0), netOut);
    if (netOut.position() == 0) {
      throw new IOException("the engine produced no alert");
    }
    send(netOut);
  }

  /** What a peer sent until the TCP end, and whether a close_notify came before that end. */
  public record Ending(byte[] data, boolean closeNotify) {
  }

  /** Reads application data until the server's TCP FIN; notes whether its close_notify came first. */
  public Ending readToEnd() throws IOException {
    java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
    InputStream in = peer.socket().getInputStream();
    byte[] chunk = new byte[16384];
    boolean closeNotify = false;
    while (true) {
      netIn.flip();
      while (netIn.hasRemaining() && !engine.isInboundDone()) {
        appIn.clear();
        SSLEngineResult r = engine.unwrap(netIn, appIn);
        appIn.flip();
        data.write(appIn.array(), appIn.position(), appIn.remaining());
        if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW || r.bytesConsumed() == 0) {
          break;
        }
      }
      netIn.compact();
      closeNotify |= engine.isInboundDone();
      int n = in.read(chunk);
      if (n < 0) {
        return new Ending(data.toByteArray(), closeNotify);
      }
      if (!engine.isInboundDone()) {
        netIn.put(chunk, 0, n);
      }
    }
  }

  private void send(ByteBuffer netOut) throws IOException {
    netOut.flip();
    byte[] bytes = new byte[netOut.remaining()];
    netOut.get(bytes);
    if (bytes.length > 0) {
      peer.write(bytes);
    }
  }

  private void unwrapMore() throws IOException {
    netIn.flip();
    SSLEngineResult r = engine.unwrap(netIn, appIn);
    netIn.compact();
    if (r.getStatus() == SSLEngineResult.Status.BUFFER_UNDERFLOW || r.bytesConsumed() == 0) {
      InputStream in = peer.socket().getInputStream();
      byte[] chunk = new byte[netIn.remaining()];
      int n = in.read(chunk);
      if (n < 0) {
        throw new IOException("the server closed during the handshake");
      }
      netIn.put(chunk, 0, n);
    }
  }
}
