package dev.ferry.proxy;

import dev.ferry.metrics.MetricNames;
import dev.ferry.support.Backend;
import dev.ferry.support.Certificates;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.Ports;
import dev.ferry.support.TestConfig;
import dev.ferry.support.TlsPeers;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import io.micrometer.core.instrument.Counter;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * TLS passthrough: routes that share one port, chosen by the ClientHello's server name, each proxying to TLS
 * backends that present their own certificates (the test asserts which one it got); the ClientHello's bytes go on
 * untouched (the handshake with the backend succeeds), whole or split over many TCP segments.
 */
class SniPassthroughTest {

  private static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  @TempDir
  Path dir;

  private static Backend tlsEcho(Certificates cert) throws Exception {
    return Backend.tls(cert, Backend.closingAtEof(peer -> peer.write(peer.readExactly(PING.length))));
  }

  /** Passthrough routes on {@code port}; each {@code names[i]} null: the default route. */
  private static TestConfig routes(int port, List<String> routeNames, List<Backend> backends, List<List<String>> sni) {
    TestConfig config = FerryHarness.options().set("tls.mode", "passthrough");
    for (int i = 0; i < routeNames.size(); i++) {
      config.route(routeNames.get(i), backends.get(i).address()).routeSet(routeNames.get(i), "listen.port", port);
      if (sni.get(i) != null) {
        config.routeSet(routeNames.get(i), "sni", sni.get(i));
      }
    }
    return config;
  }

  private static String exchange(Peer client) throws IOException {
    client.write(PING);
    assertThat(client.readExactly(PING.length)).isEqualTo(PING);
    return TlsPeers.presented(client);
  }

  private static long opened(FerryHarness ferry, String route) {
    return (long) ferry.metrics().registry().find(MetricNames.CONNECTIONS_OPENED).tag(MetricNames.TAG_ROUTE, route)
      .counters().stream().mapToDouble(Counter::count).sum();
  }

  @Test
  void twoNamesOnOnePortReachTwoPoolsAndAnyOtherNameTheDefault() throws Exception {
    Certificates a = Certificates.selfSigned(dir, "a.example");
    Certificates b = Certificates.selfSigned(dir, "x.wild.example");
    Certificates other = Certificates.selfSigned(dir, "default.example");
    int port = Ports.freeLoopbackPort();
    try (Backend backendA = tlsEcho(a); Backend backendB = tlsEcho(b); Backend fallback = tlsEcho(other);
         FerryHarness ferry = FerryHarness.start(routes(port, List.of("alpha", "wild", "rest"),
           List.of(backendA, backendB, fallback), java.util.Arrays.asList(List.of("A.example"),
             List.of("*.wild.example"), null)))) {
      // A context per client: the JDK resumes a session cached for 127.0.0.1:port, with that session's server name.
      Peer toA = TlsPeers.connect(port, Certificates.trusting(a, b, other), "a.example");
      assertThat(exchange(toA)).isEqualTo("a.example");
      Peer toB = TlsPeers.connect(port, Certificates.trusting(a, b, other), "x.wild.example");
      assertThat(exchange(toB)).isEqualTo("x.wild.example");
      Peer unknown = TlsPeers.connect(port, Certificates.trusting(a, b, other), "y.x.wild.example");
      assertThat(exchange(unknown)).as("a wildcard takes one label, not two").isEqualTo("default.example");
      Peer noName = TlsPeers.connect(port, Certificates.trusting(a, b, other), null);
      assertThat(exchange(noName)).isEqualTo("default.example");
      for (Peer p : List.of(toA, toB, unknown, noName)) {
        p.close();
      }
      // Either FIN may come first: the JDK's close() sends close_notify, and may wait for the backend's own.
      JsonObject lineA = ferry.access().awaitOne(toA.localPort());
      assertThat(lineA.getString("reason")).isEqualTo(CloseReason.PEER_CLOSED.label());
      assertThat(lineA.getString("route")).isEqualTo("alpha");
      assertThat(lineA.getString("server_name")).isEqualTo("a.example");
      assertThat(ferry.access().awaitOne(toB.localPort()).getString("route")).isEqualTo("wild");
      assertThat(ferry.access().awaitOne(unknown.localPort()).getString("route")).isEqualTo("rest");
      assertThat(ferry.access().awaitOne(noName.localPort()).getString("route")).isEqualTo("rest");
      ferry.assertReleasedCleanly();
      assertThat(List.of(opened(ferry, "alpha"), opened(ferry, "wild"), opened(ferry, "rest")))
        .as("each connection counted in the route its ClientHello chose").containsExactly(1L, 1L, 2L);
      assertThat(List.of(backendA.accepted().size(), backendB.accepted().size(), fallback.accepted().size()))
        .containsExactly(1, 1, 2);
    }
  }

  @Test
  void aNameNoRouteTakesWithNoDefaultEndsTheConnectionBeforeAnyUpstream() throws Exception {
    Certificates a = Certificates.selfSigned(dir, "a.example");
    Certificates b = Certificates.selfSigned(dir, "b.example");
    int port = Ports.freeLoopbackPort();
    try (Backend backendA = tlsEcho(a); Backend backendB = tlsEcho(b);
         FerryHarness ferry = FerryHarness.start(routes(port, List.of("alpha", "beta"), List.of(backendA, backendB),
           List.of(List.of("a.example"), List.of("b.example"))))) {
      Socket plain = new Socket();
      plain.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      int localPort = plain.getLocalPort();
      try {
        TlsPeers.over(plain, port, Certificates.trusting(a, b), "c.example");
        throw new AssertionError("the handshake should not complete");
      } catch (IOException expected) {
        // Ferry closed the connection: no route for c.example.
      }
      JsonObject line = ferry.access().awaitOne(localPort);
      assertThat(line.getString("reason")).isEqualTo(CloseReason.PROTOCOL_ERROR.label());
      assertThat(line.getString("detail")).isEqualTo("no_route: no route for server name c.example");
      assertThat(line.getString("route")).as("counted in the address's lead route").isEqualTo("alpha");
      assertThat(ferry.ferry().routes().get(0).meters().protocolErrorsTotal(ProtocolErrorCause.NO_ROUTE))
        .isEqualTo(1);
      assertThat(backendA.accepted()).isEmpty();
      assertThat(backendB.accepted()).isEmpty();
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void aClientHelloSplitOverManySegmentsStillChoosesItsRoute() throws Exception {
    Certificates a = Certificates.selfSigned(dir, "a.example");
    Certificates b = Certificates.selfSigned(dir, "b.example");
    int port = Ports.freeLoopbackPort();
    try (Backend backendA = tlsEcho(a); Backend backendB = tlsEcho(b);
         FerryHarness ferry = FerryHarness.start(routes(port, List.of("alpha", "beta"), List.of(backendA, backendB),
           List.of(List.of("a.example"), List.of("b.example"))))) {
      Socket chopping = new ChoppingSocket(16);
      chopping.connect(new InetSocketAddress("127.0.0.1", port), 5000);
      chopping.setTcpNoDelay(true);
      Peer client = TlsPeers.over(chopping, port, Certificates.trusting(a, b), "b.example");
      assertThat(exchange(client)).isEqualTo("b.example");
      client.close();
      assertThat(ferry.access().awaitOne(client.localPort()).getString("route")).isEqualTo("beta");
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * A socket whose first 2 KiB go out {@code piece} bytes at a time, each its own TCP segment (TCP_NODELAY), a
   * moment apart so the kernel does not coalesce them: a ClientHello arrives in pieces, as over a lossy network.
   */
  static final class ChoppingSocket extends Socket {
    private final int piece;
    private OutputStream out;

    ChoppingSocket(int piece) {
      this.piece = piece;
    }

    @Override
    public synchronized OutputStream getOutputStream() throws IOException {
      if (out == null) {
        OutputStream raw = super.getOutputStream();
        out = new FilterOutputStream(raw) {
          private long sent;

          @Override
          public void write(byte[] b, int off, int len) throws IOException {
            while (len > 0) {
              int n = sent < 2048 ? Math.min(piece, len) : len;
              raw.write(b, off, n);
              raw.flush();
              sent += n;
              off += n;
              len -= n;
              if (sent < 2048) {
                Peer.nap(java.time.Duration.ofMillis(2));
              }
            }
          }
        };
      }
      return out;
    }
  }
}
