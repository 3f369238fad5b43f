package dev.ferry.k8s;

import dev.ferry.registry.Addresses;
import dev.ferry.registry.CloseRequest;
import dev.ferry.support.Await;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/** Traffic the k8s checks drive through a Ferry, each step awaited to its access-log line. */
final class Traffic {

  private Traffic() {
  }

  /** One echoed exchange, closed by the client (PEER_CLOSED, client). */
  static void echoOnce(FerryHarness ferry) throws Exception {
    try (Peer client = ferry.connect()) {
      client.write("ferry");
      assertThat(client.readExactlyText(5)).isEqualTo("ferry");
      client.finish();
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
    }
  }

  /** A client that resets its connection (PEER_RESET, client). */
  static void clientReset(FerryHarness ferry) throws Exception {
    Peer client = ferry.connect();
    client.write("x");
    client.readExactly(1);
    int port = client.localPort();
    client.reset();
    ferry.access().awaitOne(port);
  }

  /** Two close requests for one open connection: one wins, one is counted as a prevented double free. */
  static void preventedDoubleFree(FerryHarness ferry) throws Exception {
    try (Peer client = ferry.connect()) {
      client.write("y");
      client.readExactly(1);
      JsonArray open = new JsonObject(ferry.admin("GET", "/connections").body()).getJsonArray("connections");
      assertThat(open).hasSize(1);
      long id = open.getJsonObject(0).getLong("id");
      int shards = ferry.ferry().options().registry().shards();
      String address = Addresses.registry(Addresses.shardOf(id, shards));
      long before = ferry.metrics().preventedTotal();
      var bus = ferry.ferry().vertx().eventBus();
      // Sent back to back from one thread: both reach the registry before the release is acknowledged.
      bus.send(address, new CloseRequest(id, CloseReason.ADMIN_KILL, Side.PROXY, "k8s test"));
      bus.send(address, new CloseRequest(id, CloseReason.ADMIN_KILL, Side.PROXY, "k8s test, again"));
      client.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.ADMIN_KILL, Side.PROXY);
      // At least the second request; a late request of an earlier fault may add to it.
      Await.until("a prevented double free", () -> ferry.metrics().preventedTotal() >= before + 1);
    }
  }

  /** Metric names in a Prometheus text exposition (samples only). */
  static Set<String> exportedNames(String exposition) {
    Set<String> names = new TreeSet<>();
    exposition.lines().filter(l -> !l.isBlank() && !l.startsWith("#"))
      .forEach(l -> names.add(l.split("[{ ]", 2)[0]));
    return names;
  }
}
