package dev.ferry.proxy;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.support.ProxyHeaders;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.ProtocolErrorCause;
import dev.ferry.vocabulary.Side;
import io.netty.handler.codec.haproxy.HAProxyProtocolVersion;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The PROXY protocol, received and sent: the header's address is the client everywhere (access log with the TCP peer
 * beside it, GET /connections, per-source limits, source-hash), a LOCAL header keeps the peer, a header of a version
 * the route does not take ends the connection before any upstream is dialled, and a header sent upstream carries the
 * real client ahead of its first byte.
 */
class ProxyProtocolTest {

  private static final byte[] PING = "ping\n".getBytes(StandardCharsets.US_ASCII);

  private static Backend echo() throws Exception {
    return new Backend(Backend.closingAtEof(peer -> peer.write(peer.readExactly(PING.length))));
  }

  @ParameterizedTest(name = "accept {0}, header {1}")
  @CsvSource({"v1, V1", "v2, V2", "any, V1", "any, V2"})
  void takesTheHeadersAddressAsTheClientAndKeepsThePeerBesideIt(String accept, HAProxyProtocolVersion version)
    throws Exception {
    try (Backend backend = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", accept))) {
      Peer client = ferry.connect();
      client.write(ProxyHeaders.tcp4(version, "203.0.113.7", 4321, "198.51.100.1", 443)).write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);

      JsonObject listed = new JsonObject(ferry.admin("GET", "/connections").body()).getJsonArray("connections")
        .getJsonObject(0);
      assertThat(listed.getString("client")).isEqualTo("203.0.113.7:4321");
      assertThat(listed.getString("peer")).isEqualTo("127.0.0.1:" + client.localPort());

      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getString("client")).isEqualTo("203.0.113.7:4321");
      assertThat(line.getString("peer")).isEqualTo("127.0.0.1:" + client.localPort());
      assertThat(line.getLong("bytes_upstream")).as("the header is not the client's byte").isEqualTo(PING.length);
      ferry.assertReleasedCleanly();
    }
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"V1", "V2"})
  void aLocalHeaderKeepsThePeerAsTheClient(HAProxyProtocolVersion version) throws Exception {
    try (Backend backend = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", "any"))) {
      Peer client = ferry.connect();
      client.write(ProxyHeaders.local(version)).write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      client.close();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(line.getString("client")).isEqualTo("127.0.0.1:" + client.localPort());
      assertThat(line.containsKey("peer")).isFalse();
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void aHeaderOfAVersionTheRouteDoesNotTakeEndsTheConnectionBeforeAnyUpstream() throws Exception {
    try (Backend backend = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", "v1"))) {
      Peer client = ferry.connect();
      client.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V2, "203.0.113.7", 4321, "198.51.100.1", 443))
        .write(PING);
      client.awaitClosedByPeer();
      JsonObject line = ferry.assertClosedFor(client, CloseReason.PROTOCOL_ERROR, Side.CLIENT);
      assertThat(line.getString("detail")).startsWith("wrong_version: ");
      assertThat(line.getString("upstream")).isNull();
      assertThat(ferry.ferry().routes().get(0).meters().protocolErrorsTotal(ProtocolErrorCause.WRONG_VERSION))
        .isEqualTo(1);
      assertThat(backend.accepted()).as("no upstream dialled").isEmpty();
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void thePerSourceLimitCountsTheHeadersAddress() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", "v1").set("limits.max-connections-per-source", 1))) {
      Peer first = ferry.connect();
      first.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V1, "203.0.113.7", 1000, "198.51.100.1", 443));
      backend.awaitAccepted(1);
      Peer sameSource = ferry.connect();
      sameSource.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V1, "203.0.113.7", 1001, "198.51.100.1", 443));
      sameSource.awaitClosedByPeer();
      JsonObject refused = ferry.assertClosedFor(sameSource, CloseReason.LIMIT, Side.PROXY);
      assertThat(refused.getString("detail")).endsWith("for 203.0.113.7");
      Peer otherSource = ferry.connect();
      otherSource.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V1, "203.0.113.8", 1002, "198.51.100.1", 443));
      backend.awaitAccepted(2);
      assertThat(otherSource.staysOpenFor(java.time.Duration.ofMillis(200))).isTrue();
      for (Peer p : List.of(first, otherSource)) {
        p.reset();
      }
      ferry.assertReleasedCleanly();
      assertThat(backend.accepted()).hasSize(2);
    }
  }

  @Test
  void sourceHashHashesTheHeadersAddressNotThePeers() throws Exception {
    try (Backend a = echo(); Backend b = echo();
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(a.address(), b.address())
           .set("balance", "source-hash").set("proxy-protocol.accept", "v2"))) {
      List<String> upstreams = new CopyOnWriteArrayList<>();
      for (int i = 1; i <= 12; i++) {
        upstreams.add(exchange(ferry, "203.0.113." + i));
      }
      Set<String> distinct = new HashSet<>(upstreams);
      assertThat(distinct).as("every peer is 127.0.0.1: only the header's addresses can spread them").hasSize(2);
      for (int i = 1; i <= 12; i++) {
        assertThat(exchange(ferry, "203.0.113." + i)).as("the same header address, the same upstream")
          .isEqualTo(upstreams.get(i - 1));
      }
      ferry.assertReleasedCleanly();
    }
  }

  private static String exchange(FerryHarness ferry, String ip) throws Exception {
    Peer client = ferry.connect();
    client.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V2, ip, 5000, "198.51.100.1", 443)).write(PING);
    assertThat(client.readExactly(PING.length)).isEqualTo(PING);
    client.close();
    return ferry.access().awaitOne(client.localPort()).getString("upstream");
  }

  @ParameterizedTest(name = "send {0}")
  @CsvSource({"v1, V1", "v2, V2"})
  void sendsTheRealClientToTheUpstreamBeforeItsFirstByte(String send, HAProxyProtocolVersion version)
    throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Backend backend = new Backend(Backend.closingAtEof(peer -> {
           seen.add(ProxyHeaders.read(peer.socket().getInputStream()));
           peer.write(peer.readExactly(PING.length));
         }));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.send", send))) {
      Peer direct = ferry.connect();
      direct.write(PING);
      assertThat(direct.readExactly(PING.length)).isEqualTo(PING);
      direct.close();
      ferry.assertClosedFor(direct, CloseReason.PEER_CLOSED, Side.CLIENT);
      assertThat(seen).containsExactly(version + " TCP4 127.0.0.1:" + direct.localPort() + " -> 127.0.0.1:"
        + ferry.port());
      ferry.assertReleasedCleanly();
    }
  }

  @Test
  void passesAnAcceptedHeadersClientOnInTheHeaderItSends() throws Exception {
    List<String> seen = new CopyOnWriteArrayList<>();
    try (Backend backend = new Backend(Backend.closingAtEof(peer -> {
           seen.add(ProxyHeaders.read(peer.socket().getInputStream()));
           peer.write(peer.readExactly(PING.length));
         }));
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("proxy-protocol.accept", "v1").set("proxy-protocol.send", "v2"))) {
      Peer client = ferry.connect();
      client.write(ProxyHeaders.tcp4(HAProxyProtocolVersion.V1, "203.0.113.7", 4321, "198.51.100.1", 443))
        .write(PING);
      assertThat(client.readExactly(PING.length)).isEqualTo(PING);
      client.close();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      Await.until("the upstream read the header", () -> !seen.isEmpty());
      assertThat(seen).containsExactly("V2 TCP4 203.0.113.7:4321 -> 198.51.100.1:443");
      ferry.assertReleasedCleanly();
    }
  }
}
