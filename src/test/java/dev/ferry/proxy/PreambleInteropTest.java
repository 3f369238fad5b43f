package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Certificates;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Haproxy;
import dev.ferry.support.Nginx;
import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;
import dev.ferry.support.TlsPeers;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PROXY protocol and TLS against the real thing: HAProxy sending headers to Ferry, HAProxy and nginx reading the
 * headers Ferry sends (each asserts the client from its own log or variable, not Ferry's), and half-close over TLS,
 * where HAProxy is the reference on the wire.
 */
class PreambleInteropTest {

  private static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  @TempDir
  Path dir;

  private static Backend echo() throws Exception {
    return new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(PING.length))));
  }

  /** HAProxy in front ({@code send-proxy}, {@code send-proxy-v2}): Ferry's client is HAProxy's client. */
  @ParameterizedTest(name = "haproxy {0}")
  @ValueSource(strings = {"send-proxy", "send-proxy-v2"})
  void takesTheClientFromHaproxysHeader(String sendProxy) throws Exception {
    try (Backend backend = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", "any"));
         Haproxy haproxy = Haproxy.start(dir, port -> "listen front\n  bind 127.0.0.1:" + port
           + "\n  server ferry 127.0.0.1:" + ferry.port() + " " + sendProxy + "\n")) {
      Peer client = Peer.connect(haproxy.port());
      client.write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      client.close();
      Await.until("the connection ended", () -> ferry.access().lines().size() == 1);
      JsonObject line = ferry.access().lines().get(0);
      assertThat(line.getString("client")).isEqualTo("127.0.0.1:" + client.localPort());
      assertThat(line.getString("peer")).as("HAProxy's own connection").isNotEqualTo(line.getString("client"));
      assertThat(line.getString("reason")).isEqualTo(CloseReason.PEER_CLOSED.label());
      ferry.assertReleasedCleanly();
    }
  }

  /** HAProxy behind ({@code accept-proxy}): its own log ({@code %ci:%cp}) names Ferry's client. */
  @ParameterizedTest(name = "send {0}")
  @ValueSource(strings = {"v1", "v2"})
  void haproxyBehindSeesTheOriginalClient(String send) throws Exception {
    try (Backend backend = echo();
         Haproxy haproxy = Haproxy.start(dir, port -> "listen back\n  bind 127.0.0.1:" + port + " accept-proxy\n"
           + "  log global\n  log-format \"client=%ci:%cp\"\n  server echo " + backend.address() + "\n");
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(
           new dev.ferry.config.UpstreamAddress("127.0.0.1", haproxy.port())).set("proxy-protocol.send", send))) {
      Peer client = ferry.connect();
      client.write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      Await.until("haproxy logged the session", () -> logOf(haproxy).contains("client="));
      assertThat(haproxy.log()).contains("client=127.0.0.1:" + client.localPort());
      ferry.assertReleasedCleanly();
    }
  }

  private static String logOf(Haproxy haproxy) {
    try {
      return haproxy.log();
    } catch (java.io.IOException e) {
      return "";
    }
  }

  /** nginx behind ({@code listen ... proxy_protocol}): it answers with its own {@code $proxy_protocol_addr}. */
  @ParameterizedTest(name = "send {0}")
  @ValueSource(strings = {"v1", "v2"})
  void nginxBehindSeesTheOriginalClient(String send) throws Exception {
    try (Nginx nginx = Nginx.start(dir, port -> "  server {\n    listen 127.0.0.1:" + port + " proxy_protocol;\n"
           + "    return \"$proxy_protocol_addr:$proxy_protocol_port\\n\";\n  }");
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(
           new dev.ferry.config.UpstreamAddress("127.0.0.1", nginx.port())).set("proxy-protocol.send", send))) {
      Peer client = ferry.connect();
      String expected = "127.0.0.1:" + client.localPort() + "\n";
      assertThat(client.readExactlyText(expected.length())).isEqualTo(expected);
      client.awaitClosedByPeer();
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * Over TLS, the upstream greets and sends its FIN first; the client reads to the end (close_notify), still
   * uploads, then ends (close_notify and FIN). Through HAProxy ({@code ssl crt}) and through Ferry
   * ({@code tls.mode: terminate}), on the same certificate, the client sees the same greeting and end, and the
   * upstream the same upload, whole. The upload's end: Ferry passes it on (the upstream reads its EOF, and the
   * connection ends in order); HAProxy 2.6.12 with Debian's OpenSSL 3.0 does not always (in 2 of 3 runs here the
   * upstream had every byte and no EOF 15 s later), so that step is asserted for Ferry alone.
   */
  @ParameterizedTest(name = "provider {0}")
  @ValueSource(strings = {"openssl", "jdk"})
  void halfCloseOverTlsDeliversWhatHaproxyDelivers(String provider) throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    Path pem = dir.resolve("haproxy.pem");
    Files.writeString(pem, Files.readString(cert.certificate()) + Files.readString(cert.key()));
    byte[] upload = Peer.randomBytes(256 * 1024, 91);
    byte[] greeting = "hello\n".getBytes(StandardCharsets.US_ASCII);
    Upstream behindHaproxy = new Upstream(greeting);
    Upstream behindFerry = new Upstream(greeting);
    try (Backend haproxyBackend = new Backend(behindHaproxy);
         Backend ferryBackend = new Backend(behindFerry);
         Haproxy haproxy = Haproxy.start(dir, port -> "listen tls\n  bind 127.0.0.1:" + port + " ssl crt " + pem
           + "\n  server upstream " + haproxyBackend.address() + "\n");
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(ferryBackend.address())
           .set("tls.mode", "terminate").set("tls.certificate", cert.certificate().toString())
           .set("tls.key", cert.key().toString()).set("tls.provider", provider))) {
      List<Digest> greetings = new ArrayList<>();
      List<Peer> clients = new ArrayList<>();
      for (int port : new int[] {haproxy.port(), ferry.port()}) {
        Peer client = TlsPeers.connect(port, Certificates.trusting(cert), "ferry.test");
        greetings.add(client.readToEnd(Duration.ZERO));
        client.write(upload);
        client.finish();
        clients.add(client);
      }
      assertThat(greetings).as("greeting, then close_notify, via HAProxy then Ferry")
        .containsExactly(Digest.of(greeting), Digest.of(greeting));
      for (Upstream u : List.of(behindHaproxy, behindFerry)) {
        Await.until("the upload arrived whole " + (u == behindFerry ? "through Ferry" : "through HAProxy"),
          () -> u.received().length >= upload.length);
        assertThat(Digest.of(u.received())).isEqualTo(Digest.of(upload));
      }
      Await.until("the upstream behind Ferry read the upload's end", behindFerry::ended);
      Peer viaFerry = clients.get(1);
      ferry.assertClosedFor(viaFerry, CloseReason.PEER_CLOSED, Side.UPSTREAM);
      for (Peer c : clients) {
        c.close();
      }
      ferry.assertReleasedCleanly();
    }
  }

  /**
   * The upstream's end reaches a TLS client as HAProxy sends it: a close_notify, then the TCP FIN (a client's TLS
   * library then reads a clean end, not a truncation). The client, a JDK engine driven by hand, tells the two apart.
   */
  @ParameterizedTest(name = "provider {0}")
  @ValueSource(strings = {"openssl", "jdk"})
  void theUpstreamsEndIsACloseNotifyThenAFinAsHaproxySendsIt(String provider) throws Exception {
    Certificates cert = Certificates.selfSigned(dir, "ferry.test");
    Path pem = dir.resolve("haproxy.pem");
    Files.writeString(pem, Files.readString(cert.certificate()) + Files.readString(cert.key()));
    byte[] greeting = "hello\n".getBytes(StandardCharsets.US_ASCII);
    try (Backend backend = new Backend(peer -> {
           peer.write(greeting);
           peer.close();
         });
         Haproxy haproxy = Haproxy.start(dir, port -> "listen tls\n  bind 127.0.0.1:" + port + " ssl crt " + pem
           + "\n  server upstream " + backend.address() + "\n");
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("tls.mode", "terminate").set("tls.certificate", cert.certificate().toString())
           .set("tls.key", cert.key().toString()).set("tls.provider", provider))) {
      List<String> endings = new ArrayList<>();
      for (int port : new int[] {haproxy.port(), ferry.port()}) {
        try (Peer plain = Peer.connect(port)) {
          dev.ferry.support.EngineClient client = new dev.ferry.support.EngineClient(plain,
            Certificates.trusting(cert), "ferry.test");
          client.handshake();
          dev.ferry.support.EngineClient.Ending end = client.readToEnd();
          endings.add(new String(end.data(), StandardCharsets.US_ASCII) + (end.closeNotify() ? "close_notify, FIN"
            : "FIN alone"));
        }
      }
      assertThat(endings).as("what the client read through HAProxy, then Ferry")
        .containsExactly("hello\nclose_notify, FIN", "hello\nclose_notify, FIN");
      Await.until("the connection ended", () -> ferry.access().lines().size() == 1);
      ferry.assertReleasedCleanly();
    }
  }

  /** An upstream that greets, sends its FIN, and records what it reads until the end. */
  private static final class Upstream implements Backend.Behaviour {
    private final byte[] greeting;
    private final java.io.ByteArrayOutputStream received = new java.io.ByteArrayOutputStream();
    private volatile boolean ended;

    Upstream(byte[] greeting) {
      this.greeting = greeting;
    }

    @Override
    public void serve(Peer peer) throws java.io.IOException {
      peer.write(greeting);
      peer.finish();
      byte[] buf = new byte[16384];
      int n;
      java.io.InputStream in = peer.socket().getInputStream();
      while ((n = in.read(buf)) >= 0) {
        synchronized (received) {
          received.write(buf, 0, n);
        }
      }
      ended = true;
      peer.close();
    }

    byte[] received() {
      synchronized (received) {
        return received.toByteArray();
      }
    }

    boolean ended() {
      return ended;
    }
  }
}
