package dev.ferry.registry;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Close requests for the same connections arriving all at once from many threads and event loops into a running
 * Ferry with a sharded registry: K real connections (client, Ferry, backend) × T sender threads × R requests per
 * connection and thread. Half the senders publish from their own pool thread, the other half hop onto an event-loop
 * context of their own first (as a listener's fault sites do). A {@link CyclicBarrier} releases them together.
 * <p>
 * Expected, exactly: one release per connection (one access-log line per client, {@code closedTotal() == K}), every
 * other request counted as prevented ({@code K*T*R - K}), the recorded reason and side being the pair of one single
 * request (each sender thread uses its own reason/side pair, so a record mixing two requests is caught), and the
 * connection released cleanly (both sockets closed, gauges at 0, no leak, no detected double free).
 */
class RegistryStressTest {

  private static final int CONNECTIONS = 6;
  private static final int THREADS = 8;
  private static final int REQUESTS = 40;
  /** No PEER_CLOSED: that reason asks for a graceful flush; the stress is about the decision, not the flush. */
  private static final CloseReason[] REASONS = {CloseReason.PEER_RESET, CloseReason.IO_ERROR,
    CloseReason.WRITE_FAILED, CloseReason.IDLE_TIMEOUT};
  private static final Side[] SIDES = Side.values();

  private static CloseReason reasonOf(int thread) {
    return REASONS[thread % REASONS.length];
  }

  private static Side sideOf(int thread) {
    return SIDES[thread % SIDES.length];
  }

  private static List<Long> connectionIds(FerryHarness ferry) throws Exception {
    HttpResponse<String> res = ferry.admin("GET", "/connections?limit=1000");
    assertThat(res.statusCode()).isEqualTo(200);
    JsonArray list = new JsonObject(res.body()).getJsonArray("connections");
    List<Long> ids = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      ids.add(list.getJsonObject(i).getLong("id"));
    }
    return ids;
  }

  @ParameterizedTest(name = "registry.shards = {0}")
  @ValueSource(ints = {2, 4})
  @Timeout(value = 90, unit = TimeUnit.SECONDS)
  void closeRequestsRacingFromManyThreadsAndEventLoopsReleaseEachConnectionOnceAndCountTheRestAsPrevented(int shards)
    throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("registry.shards", shards).set("instances", 2))) {
      List<Peer> clients = new ArrayList<>();
      for (int k = 0; k < CONNECTIONS; k++) {
        clients.add(ferry.connect());
      }
      backend.awaitAccepted(CONNECTIONS);
      Await.until(CONNECTIONS + " connections registered", () -> ferry.metrics().connectionsOpen() == CONNECTIONS);
      List<Long> ids = connectionIds(ferry);
      assertThat(ids).hasSize(CONNECTIONS).doesNotHaveDuplicates();
      Set<Integer> usedShards = new HashSet<>();
      ids.forEach(id -> usedShards.add(Addresses.shardOf(id, shards)));
      assertThat(usedShards).as("the connections spread over several shards").hasSizeGreaterThan(1);

      Vertx vertx = ferry.ferry().vertx();
      ExecutorService pool = Executors.newFixedThreadPool(THREADS);
      CyclicBarrier start = new CyclicBarrier(THREADS);
      List<Future<?>> senders = new ArrayList<>();
      try {
        for (int t = 0; t < THREADS; t++) {
          int thread = t;
          // From a non-Vert.x thread, getOrCreateContext() makes a fresh event-loop context (event loops round-robin).
          Context eventLoop = thread % 2 == 1 ? vertx.getOrCreateContext() : null;
          senders.add(pool.submit(() -> {
            Runnable burst = () -> {
              for (int r = 0; r < REQUESTS; r++) {
                for (long id : ids) {
                  vertx.eventBus().send(Addresses.registry(Addresses.shardOf(id, shards)),
                    new CloseRequest(id, reasonOf(thread), sideOf(thread), "stress thread " + thread + " #" + r));
                }
              }
            };
            start.await(10, TimeUnit.SECONDS);
            if (eventLoop == null) {
              burst.run();
            } else {
              CountDownLatch sent = new CountDownLatch(1);
              eventLoop.runOnContext(v -> {
                try {
                  burst.run();
                } finally {
                  sent.countDown();
                }
              });
              assertThat(sent.await(30, TimeUnit.SECONDS)).as("event-loop sender %d done", thread).isTrue();
            }
            return null;
          }));
        }
        for (Future<?> f : senders) {
          f.get(30, TimeUnit.SECONDS);
        }
      } finally {
        pool.shutdownNow();
      }

      for (Peer c : clients) {
        c.awaitClosedByPeer();
      }
      for (Peer u : backend.accepted()) {
        u.awaitClosedByPeer();
      }
      Set<String> sentPairs = new HashSet<>();
      for (int t = 0; t < THREADS; t++) {
        sentPairs.add(reasonOf(t).label() + "/" + sideOf(t).label());
      }
      for (Peer c : clients) {
        JsonObject line = ferry.access().awaitOne(c.localPort());
        assertThat(line.getString("reason") + "/" + line.getString("side"))
          .as("recorded reason/side of %s come from one request", line).isIn(sentPairs);
        assertThat(line.getString("detail")).startsWith("stress thread ");
      }
      ferry.assertReleasedCleanly();
      long requests = (long) CONNECTIONS * THREADS * REQUESTS;
      Await.equal("prevented double frees", requests - CONNECTIONS, () -> ferry.metrics().preventedTotal());
      assertThat(ferry.metrics().closedTotal()).as("releases").isEqualTo(CONNECTIONS);
      assertThat(ferry.metrics().openedTotal()).as("opened").isEqualTo(CONNECTIONS);
      assertThat(ferry.access().lines()).as("access-log lines").hasSize(CONNECTIONS);
      for (Peer c : clients) {
        assertThat(ferry.access().forClientPort(c.localPort())).as("lines for client %d", c.localPort()).hasSize(1);
      }
      assertThat(backend.failures()).isEmpty();
    }
  }
}
