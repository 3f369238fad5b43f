package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Certificates;
import dev.ferry.support.EngineClient;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.Ports;
import dev.ferry.support.ProxyHeaders;
import dev.ferry.support.TestConfig;
import dev.ferry.support.TlsPeers;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import dev.ferry.vocabulary.TlsErrorCause;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The fault matrix of what comes before the bytes, and of TLS once established: each cell is a real scenario on
 * loopback with a fresh Ferry, and asserts what {@link FaultMatrixTest} asserts: the recorded reason and side, both
 * sockets closed as seen from the test's own peers, one release (one access-log line, one close counted), every gauge
 * back at 0, no leak (the decoder's cumulation and the TLS engine's buffers included: the class runs at paranoid
 * leak detection) and no detected double free; plus the cause, counted once, and no upstream dialled when the
 * preamble failed.
 */
class PreambleMatrixTest {

  private static final Duration SHORT = Duration.ofMillis(300);

  enum Cell {
    HEADER_TIMEOUT(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TIMEOUT, false),
    GARBAGE_HEADER(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.MALFORMED, false),
    TRUNCATED_HEADER(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TRUNCATED, false),
    OVERSIZED_HEADER(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TOO_LARGE, false),
    OVERSIZED_V2_HEADER(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TOO_LARGE, false),
    HANDSHAKE_TIMEOUT(CloseReason.TLS_ERROR, Side.CLIENT, TlsErrorCause.TIMEOUT, false),
    PLAIN_TEXT_ON_TLS(CloseReason.TLS_ERROR, Side.CLIENT, TlsErrorCause.NOT_TLS, false),
    FIN_MID_HANDSHAKE(CloseReason.TLS_ERROR, Side.CLIENT, TlsErrorCause.TRUNCATED, false),
    RST_MID_HANDSHAKE(CloseReason.PEER_RESET, Side.CLIENT, null, false),
    GARBAGE_CLIENT_HELLO(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.MALFORMED, false),
    OVERSIZED_CLIENT_HELLO(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TOO_LARGE, false),
    CLIENT_HELLO_TIMEOUT(CloseReason.PROTOCOL_ERROR, Side.CLIENT, ProtocolErrorCause.TIMEOUT, false),
    UPSTREAM_RST_MID_RECORD(CloseReason.PEER_RESET, Side.UPSTREAM, null, true),
    ALERT_MID_STREAM(CloseReason.TLS_ERROR, Side.CLIENT, TlsErrorCause.ALERT, true);

    final CloseReason reason;
    final Side side;
    final Enum<?> cause;
    final boolean dialled;

    Cell(CloseReason reason, Side side, Enum<?> cause, boolean dialled) {
      this.reason = reason;
      this.side = side;
      this.cause = cause;
      this.dialled = dialled;
    }
  }

  @TempDir
  Path dir;

  /** Every cell; those of a terminating route with each TLS provider. */
  static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> cells() {
    return Arrays.stream(Cell.values()).flatMap(c -> terminates(c)
      ? java.util.stream.Stream.of("openssl", "jdk").map(p -> org.junit.jupiter.params.provider.Arguments.of(c, p))
      : java.util.stream.Stream.of(org.junit.jupiter.params.provider.Arguments.of(c, "auto")));
  }

  private static boolean terminates(Cell cell) {
    return switch (cell) {
      case HEADER_TIMEOUT, GARBAGE_HEADER, TRUNCATED_HEADER, OVERSIZED_HEADER, OVERSIZED_V2_HEADER,
        GARBAGE_CLIENT_HELLO, OVERSIZED_CLIENT_HELLO, CLIENT_HELLO_TIMEOUT -> false;
      default -> true;
    };
  }

  @ParameterizedTest(name = "{0}, provider {1}")
  @org.junit.jupiter.params.provider.MethodSource("cells")
  void endsOnceForItsReasonAndReleasesEverything(Cell cell, String provider) throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    byte[] flood = new byte[256 * 1024];
    Backend.Behaviour behaviour = cell == Cell.UPSTREAM_RST_MID_RECORD
      ? peer -> {
        for (int i = 0; i < 1024; i++) {
          peer.write(flood);
        }
      }
      : Backend.HOLD;
    try (Backend backend = new Backend(behaviour);
         FerryHarness ferry = FerryHarness.start(config(cell, cert, backend).set("tls.provider", provider))) {
      int port = ferry.port();
      Peer client = inject(cell, ferry, port, cert, backend);
      if (cell != Cell.RST_MID_HANDSHAKE) {
        client.awaitClosedByPeer();
      }
      if (cell.dialled) {
        backend.awaitAccepted(1);
        if (cell != Cell.UPSTREAM_RST_MID_RECORD) {
          backend.accepted().get(0).awaitClosedByPeer();
        }
      } else {
        assertThat(backend.accepted()).as("no upstream dialled").isEmpty();
      }
      ferry.assertClosedFor(client, cell.reason, cell.side);
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal()).as("releases").isEqualTo(1);
      assertThat(ferry.access().lines()).as("access-log lines").hasSize(1);
      var meters = ferry.ferry().routes().get(0).meters();
      if (cell.cause instanceof ProtocolErrorCause p) {
        assertThat(meters.protocolErrorsTotal(p)).as("protocol errors, cause " + p.label()).isEqualTo(1);
      } else if (cell.cause instanceof TlsErrorCause t) {
        assertThat(meters.tlsErrorsTotal(cell.side, t)).as("TLS errors, cause " + t.label()).isEqualTo(1);
      }
      client.close();
    }
  }

  private static TestConfig config(Cell cell, Certificates cert, Backend backend) throws Exception {
    TestConfig c = FerryHarness.options(backend.address());
    switch (cell) {
      case HEADER_TIMEOUT, GARBAGE_HEADER, TRUNCATED_HEADER, OVERSIZED_HEADER, OVERSIZED_V2_HEADER ->
        c.set("proxy-protocol.accept", "any").set("proxy-protocol.header-timeout", SHORT);
      case GARBAGE_CLIENT_HELLO, OVERSIZED_CLIENT_HELLO, CLIENT_HELLO_TIMEOUT ->
        c.set("tls.mode", "passthrough").set("tls.handshake-timeout", SHORT).set("listen.port",
          Ports.freeLoopbackPort());
      default -> c.set("tls.mode", "terminate").set("tls.certificate", cert.certificate().toString())
        .set("tls.key", cert.key().toString()).set("tls.handshake-timeout", SHORT);
    }
    return c;
  }

  private static Peer inject(Cell cell, FerryHarness ferry, int port, Certificates cert, Backend backend)
    throws Exception {
    switch (cell) {
      case HEADER_TIMEOUT -> {
        return Peer.connect(port).write("PROXY TCP4 ");
      }
      case GARBAGE_HEADER -> {
        return Peer.connect(port).write("GET / HTTP/1.1\r\nHost: ferry.test\r\n\r\n");
      }
      case TRUNCATED_HEADER -> {
        byte[] header = ProxyHeaders.tcp4(HAProxyProtocolVersion.V2, "203.0.113.7", 1, "198.51.100.1", 443);
        Peer p = Peer.connect(port).write(Arrays.copyOf(header, 20));
        p.finish();
        return p;
      }
      case OVERSIZED_HEADER -> {
        byte[] line = new byte[200];
        Arrays.fill(line, (byte) '1');
        return Peer.connect(port).write("PROXY TCP4 ").write(line);
      }
      case OVERSIZED_V2_HEADER -> {
        // The v2 signature, PROXY over TCP4, and 8 KiB announced: past the 4 KiB of TLVs the decoder takes.
        byte[] header = new byte[16 + 8192];
        byte[] signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x20,
          0x00};
        System.arraycopy(signature, 0, header, 0, signature.length);
        return Peer.connect(port).write(header);
      }
      case HANDSHAKE_TIMEOUT, CLIENT_HELLO_TIMEOUT -> {
        return Peer.connect(port);
      }
      case PLAIN_TEXT_ON_TLS -> {
        return Peer.connect(port).write("GET / HTTP/1.1\r\nHost: ferry.test\r\n\r\n");
      }
      case FIN_MID_HANDSHAKE, RST_MID_HANDSHAKE -> {
        byte[] hello = EngineClient.clientHello(Certificates.trusting(cert), "ferry.test");
        Peer p = Peer.connect(port).write(Arrays.copyOf(hello, hello.length / 2));
        Await.until("the connection is accepted", () -> ferry.metrics().openedTotal() == 1);
        if (cell == Cell.FIN_MID_HANDSHAKE) {
          p.finish();
        } else {
          p.reset();
        }
        return p;
      }
      case GARBAGE_CLIENT_HELLO -> {
        return Peer.connect(port).write("GET / HTTP/1.1\r\nHost: ferry.test\r\n\r\n");
      }
      case OVERSIZED_CLIENT_HELLO -> {
        // A handshake record whose ClientHello claims 64 KiB: beyond the 16 KiB bound, refused before it is read.
        byte[] record = new byte[5 + 100];
        record[0] = 0x16;
        record[1] = 0x03;
        record[2] = 0x01;
        record[4] = 100;
        record[5] = 0x01;
        record[6] = 0x01;
        return Peer.connect(port).write(record);
      }
      case UPSTREAM_RST_MID_RECORD -> {
        // The client reads nothing: Ferry's encrypted records to it queue, one of them half written to the socket.
        Peer client = TlsPeers.connect(port, Certificates.trusting(cert), "ferry.test");
        client.write("go");
        Peer upstream = backend.awaitAccepted(1);
        Await.until("Ferry queues TLS records toward the client", () -> ferry.metrics().bytesQueued() > 0);
        upstream.reset();
        return client;
      }
      case ALERT_MID_STREAM -> {
        Peer plain = Peer.connect(port);
        EngineClient client = new EngineClient(plain, Certificates.trusting(cert), "ferry.test");
        client.handshake();
        client.write("hello".getBytes(StandardCharsets.US_ASCII));
        backend.awaitAccepted(1);
        client.sendFatalAlert();
        return plain;
      }
      default -> throw new IllegalArgumentException(cell.name());
    }
  }
}
