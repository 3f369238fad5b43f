package dev.ferry.admin;

import dev.ferry.config.AdminOptions;
import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.LogThrottle;
import dev.ferry.vocabulary.AdminCloseCause;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The admin listener bounds its own connections, so a slow or idle client cannot hold the descriptors the proxy
 * needs. Measured before: 300 connections that each sent half a request header were all still open 65 s later.
 * <pre>
 *   accept ─► over admin.max-connections? ─yes─► closed at once                  (cause max_connections)
 *                │ no
 *                ▼
 *   WAITING ─ line + headers whole ─► IN REQUEST ─ response ended ─► KEEP-ALIVE ─ next request ─► IN REQUEST
 *      │ admin.request-timeout (from accept)                           │ admin.idle-timeout
 *      ▼                                                               ▼
 *   closed (cause request_timeout)                               closed (cause idle_timeout)
 * </pre>
 * HAProxy's {@code timeout http-request} bounds the first request the same way; for the next ones, Ferry cannot see
 * the first byte of a request (Vert.x hands over whole requests only), so the keep-alive wait and the next request
 * together must fit in {@code admin.idle-timeout}: a client that trickles a header after its first request is closed
 * at idle-timeout too. While a request is being answered no timer of ours runs; Vert.x's own idle timeout (no byte
 * read or written for idle-timeout + request-timeout, later than either of ours) closes a connection whose client
 * stopped reading its response. Oversized request lines and headers are refused by Vert.x's limits (4096 and 8192
 * bytes, its defaults) with 414 / 431.
 * <p>
 * Each close is counted in {@code ferry_admin_connections_closed_total{cause}} and logged at most once per 10 s per
 * cause, with the count since the last line.
 * <p>
 * Threading: the admin verticle's event loop only: the server's connection, request, end and close handlers and
 * the timers all run there (one admin verticle instance), so the map and the counts need no lock.
 */
final class AdminConnectionBounds {

  private static final Logger log = LoggerFactory.getLogger(AdminConnectionBounds.class);

  private final Vertx vertx;
  private final int max;
  private final long requestTimeoutMs;
  private final long idleTimeoutMs;
  private final FerryMetrics metrics;
  private final LogThrottle<AdminCloseCause> throttle =
    new LogThrottle<>(AdminCloseCause.class, Duration.ofSeconds(10));
  /** Every admitted connection until its close handler runs. HttpConnection has identity equality. */
  private final Map<HttpConnection, Tracked> open = new HashMap<>();

  AdminConnectionBounds(Vertx vertx, AdminOptions options, FerryMetrics metrics) {
    this.vertx = vertx;
    this.max = options.maxConnections();
    this.requestTimeoutMs = Math.max(1, options.requestTimeout().toMillis());
    this.idleTimeoutMs = Math.max(1, options.idleTimeout().toMillis());
    this.metrics = metrics;
  }

  /** The server options these bounds need: Vert.x's idle timeout as the backstop for a stalled response. */
  HttpServerOptions apply(HttpServerOptions options) {
    return options.setIdleTimeout((int) Math.min(Integer.MAX_VALUE, idleTimeoutMs + requestTimeoutMs))
      .setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
  }

  /** The server's connection handler: admits the connection and arms its request timer, or closes it at once. */
  void connected(HttpConnection conn) {
    if (open.size() >= max) {
      closed(AdminCloseCause.MAX_CONNECTIONS, conn, "closed at once: " + open.size()
        + " admin connections open, admin.max-connections is " + max);
      return;
    }
    Tracked t = new Tracked(conn);
    open.put(conn, t);
    conn.closeHandler(v -> {
      t.cancel();
      open.remove(conn);
    });
    t.arm(requestTimeoutMs, AdminCloseCause.REQUEST_TIMEOUT);
  }

  /**
   * A request's line and headers arrived: its timer stops until the response ends. False for a connection that was
   * not admitted (closed already): the caller must not answer it.
   */
  boolean requestStarted(HttpServerRequest req) {
    Tracked t = open.get(req.connection());
    if (t == null) {
      return false;
    }
    t.inFlight++;
    t.cancel();
    req.response().endHandler(v -> t.responded());
    return true;
  }

  private void closed(AdminCloseCause cause, HttpConnection conn, String why) {
    metrics.adminConnectionClosed(cause);
    long n = throttle.event(cause);
    if (n > 0) {
      log.warn("conn=- admin connection from {} {} ({} closed for {} since the last such line)",
        conn.remoteAddress(), why, n, cause.label());
    }
    conn.close();
  }

  /** One admitted connection: its requests in flight and its one timer. */
  private final class Tracked {
    private final HttpConnection conn;
    private int inFlight;
    private long timer = -1;

    Tracked(HttpConnection conn) {
      this.conn = conn;
    }

    void arm(long ms, AdminCloseCause cause) {
      cancel();
      timer = vertx.setTimer(ms, id -> {
        timer = -1;
        String why = cause == AdminCloseCause.REQUEST_TIMEOUT
          ? "closed: no whole request within admin.request-timeout (" + ms + " ms)"
          : "closed: no next request within admin.idle-timeout (" + ms + " ms)";
        closed(cause, conn, why);
      });
    }

    void cancel() {
      if (timer != -1) {
        vertx.cancelTimer(timer);
        timer = -1;
      }
    }

    void responded() {
      inFlight--;
      if (inFlight == 0 && open.containsKey(conn)) {
        arm(idleTimeoutMs, AdminCloseCause.IDLE_TIMEOUT);
      }
    }
  }
}
