package dev.ferry.registry;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.LeakKind;
import dev.ferry.vocabulary.Side;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.Comparator;

/**
 * One shard of the connection registry: the single place that decides the end of a connection.
 * <p>
 * Every message about an id reaches the same shard, and a shard handles one message at a time on its event loop,
 * so decisions per id are serialised. The first close request for an open id orders the release from the owning
 * listener (only the owner's event loop may touch its buffers); later requests are counted as prevented double
 * frees. The owner's acknowledgement ends the record and writes the connection's one access-log line. A watchdog
 * counts a leak for every release not acknowledged within {@code registry.release-timeout}.
 */
public final class ConnectionRegistryVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(ConnectionRegistryVerticle.class);
  private static final Logger accessLog = LoggerFactory.getLogger("ferry.access");

  private final int shard;
  private final FerryMetrics metrics;
  private final Duration releaseTimeout;
  private final Duration watchdogInterval;
  private final boolean writeAccessLog;
  private final ConnectionTable table = new ConnectionTable();
  private long watchdogTimer = -1;

  public ConnectionRegistryVerticle(int shard, FerryMetrics metrics, Duration releaseTimeout,
                                    Duration watchdogInterval, boolean writeAccessLog) {
    this.shard = shard;
    this.metrics = metrics;
    this.releaseTimeout = releaseTimeout;
    this.watchdogInterval = watchdogInterval;
    this.writeAccessLog = writeAccessLog;
  }

  @Override
  public Future<?> start() {
    MessageConsumer<Object> lifecycle = vertx.eventBus().localConsumer(Addresses.registry(shard), this::onLifecycle);
    MessageConsumer<JsonObject> queries = vertx.eventBus().localConsumer(Addresses.registryQuery(shard), this::onQuery);
    watchdogTimer = vertx.setPeriodic(watchdogInterval.toMillis(), id -> watchdog());
    return Future.all(lifecycle.completion(), queries.completion());
  }

  @Override
  public Future<?> stop() {
    vertx.cancelTimer(watchdogTimer);
    if (table.size() > 0) {
      log.warn("conn=- registry shard {} stopping with {} connections not released", shard, table.size());
    }
    return Future.succeededFuture();
  }

  private void onLifecycle(Message<Object> message) {
    Object body = message.body();
    if (body instanceof CloseRequest request) {
      onCloseRequest(request);
    } else if (body instanceof ReleaseAck ack) {
      onReleased(ack);
    } else if (body instanceof ConnectionOpened opened) {
      onOpened(opened);
    } else if (body instanceof RouteChosen chosen) {
      onRouteChosen(chosen.id());
    } else {
      log.error("conn=- registry shard {} ignored an unknown message {}", shard, body);
    }
  }

  private void onOpened(ConnectionOpened opened) {
    if (!table.open(opened.info(), opened.owner(), opened.routeFinal())) {
      log.error("conn={} opened twice; the second notice is ignored", opened.info().id());
    } else if (opened.routeFinal()) {
      metrics.opened(opened.info().route());
    } else {
      metrics.accepted();
    }
  }

  /** The route of a connection on a shared address is final: it counts in that route's opened meter now. */
  private void onRouteChosen(long id) {
    if (table.routeFinal(id)) {
      metrics.routeOpened(table.get(id).info().route());
    }
  }

  private ConnectionTable.Decision onCloseRequest(CloseRequest request) {
    ConnectionTable.Decision decision = table.requestClose(request, System.nanoTime());
    if (decision == ConnectionTable.Decision.ORDER_RELEASE) {
      ConnectionTable.Entry e = table.get(request.id());
      metrics.closing();
      log.debug("conn={} close requested: {} by {} ({}); ordering release", request.id(), request.reason(),
        request.side().label(), request.detail());
      vertx.eventBus().send(e.owner(), new ReleaseOrder(request.id(), request.reason(), request.side()));
    } else {
      metrics.doubleFreePrevented(request.reason());
      log.debug("conn={} close request {} by {} suppressed: already closing or released", request.id(),
        request.reason(), request.side().label());
    }
    return decision;
  }

  private void onReleased(ReleaseAck ack) {
    ConnectionTable.Entry e = table.released(ack.id());
    if (e == null) {
      metrics.doubleFreeDetected(LeakKind.RELEASE);
      log.error("conn={} release acknowledged but no release was pending: a release ran twice", ack.id());
      return;
    }
    ConnectionInfo info = e.info();
    long durationNanos = System.nanoTime() - info.openedAtNanos();
    if (!e.routeCounted()) {
      // Ended before its ClientHello chose a route: it counts, opened and closed, in its address's lead route.
      metrics.routeOpened(info.route());
    }
    metrics.released(info.route(), e.reason(), e.side(), durationNanos);
    if (ack.buffersStillHeld() != 0) {
      metrics.leakDetected(LeakKind.CONNECTION);
      log.error("conn={} released while its ledger still held {} buffers", ack.id(), ack.buffersStillHeld());
    }
    if (e.leakReported()) {
      log.warn("conn={} release acknowledged after the watchdog counted it as a leak", ack.id());
    }
    if (writeAccessLog) {
      accessLog.info(accessLine(e, durationNanos).encode());
    }
  }

  private static JsonObject accessLine(ConnectionTable.Entry e, long durationNanos) {
    ConnectionInfo info = e.info();
    long connect = info.connectNanos();
    JsonObject line = new JsonObject()
      .put("id", info.id())
      .put("route", info.route())
      .put("client", info.client());
    info.putPreamble(line);
    return line
      .put("upstream", info.upstream())
      .put("reason", e.reason().label())
      .put("side", e.side().label())
      .put("detail", e.detail())
      .put("bytes_upstream", info.bytesUpstream())
      .put("bytes_downstream", info.bytesDownstream())
      .put("connect_ms", connect < 0 ? null : connect / 1e6)
      .put("duration_ms", durationNanos / 1e6);
  }

  private void watchdog() {
    for (ConnectionTable.Entry e : table.overdue(System.nanoTime(), releaseTimeout.toNanos())) {
      metrics.leakDetected(LeakKind.RELEASE);
      log.error("conn={} release ordered for {} not acknowledged within {} ms: counted as a leak", e.info().id(),
        e.reason(), releaseTimeout.toMillis());
    }
  }

  private void onQuery(Message<JsonObject> message) {
    JsonObject q = message.body();
    String op = q.getString("op");
    if ("list".equals(op)) {
      int limit = q.getInteger("limit");
      long now = System.nanoTime();
      JsonArray list = new JsonArray();
      table.entries().stream()
        .sorted(Comparator.comparingLong(e -> e.info().id()))
        .limit(limit)
        .forEach(e -> list.add(e.info().toJson(e.state().name(), now)));
      message.reply(new JsonObject().put("total", table.size()).put("connections", list));
    } else if ("kill".equals(op)) {
      long id = q.getLong("id");
      ConnectionTable.Entry e = table.get(id);
      if (e == null) {
        message.reply(new JsonObject().put("status", "not-found"));
        return;
      }
      ConnectionTable.Decision d = onCloseRequest(new CloseRequest(id, CloseReason.ADMIN_KILL, Side.PROXY, "admin API"));
      message.reply(new JsonObject().put("status",
        d == ConnectionTable.Decision.ORDER_RELEASE ? "closing" : "already-closing"));
    } else {
      message.fail(400, "unknown op " + op);
    }
  }
}
