package dev.ferry.admin;

import dev.ferry.registry.Addresses;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.PrometheusRequestHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * The admin and metrics port.
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus text (Ferry's meters, Vert.x's and the JVM's).</li>
 *   <li>{@code GET /health/live}: 200 while the process serves requests.</li>
 *   <li>{@code GET /health/ready}: 200 when listeners are bound and the registry is up; 503 otherwise and while
 *       draining.</li>
 *   <li>{@code GET /connections?limit=N}: open connections, oldest first (default 100, at most 10000).</li>
 *   <li>{@code DELETE /connections/{id}}: closes one with reason {@code ADMIN_KILL} through the registry, like any
 *       other fault: 202, or 404 for an unknown id, 409 when it is already closing, 400 for a malformed id; 401
 *       without {@code Authorization: Bearer <admin.token>} when a token is configured.</li>
 * </ul>
 * Every error is a JSON body {@code {"error": "..."}}; no stack trace ever reaches a response.
 */
public final class AdminVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(AdminVerticle.class);

  public static final int DEFAULT_LIST_LIMIT = 100;
  public static final int MAX_LIST_LIMIT = 10_000;
  private static final String CONNECTIONS = "/connections";

  private final String host;
  private final int port;
  private final int shards;
  private final PrometheusMeterRegistry registry;
  private final BooleanSupplier ready;
  private final byte[] token;
  private Handler<HttpServerRequest> metricsHandler;
  private volatile int actualPort = -1;

  /**
   * @param token the bearer token {@code DELETE /connections/{id}} requires, or null for none
   */
  public AdminVerticle(String host, int port, int shards, PrometheusMeterRegistry registry, BooleanSupplier ready,
                       String token) {
    this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
    this.host = host;
    this.port = port;
    this.shards = shards;
    this.registry = registry;
    this.ready = ready;
  }

  @Override
  public Future<?> start() {
    metricsHandler = PrometheusRequestHandler.create(registry);
    // HTTP/1.1 only: what Prometheus and kubelet probes speak; no h2c upgrade path on the admin port.
    HttpServer server = vertx.createHttpServer(new HttpServerOptions().setHost(host).setPort(port)
      .setHttp2ClearTextEnabled(false));
    server.requestHandler(this::route);
    return server.listen().onSuccess(s -> actualPort = s.actualPort());
  }

  public int actualPort() {
    return actualPort;
  }

  private void route(HttpServerRequest req) {
    String path = req.path();
    try {
      switch (path) {
        case "/metrics" -> {
          if (allow(req, HttpMethod.GET)) {
            metricsHandler.handle(req);
          }
        }
        case "/health/live" -> {
          if (allow(req, HttpMethod.GET)) {
            json(req, 200, new JsonObject().put("status", "UP"));
          }
        }
        case "/health/ready" -> {
          if (allow(req, HttpMethod.GET)) {
            boolean ok = ready.getAsBoolean();
            json(req, ok ? 200 : 503, new JsonObject().put("status", ok ? "UP" : "DOWN"));
          }
        }
        case CONNECTIONS -> {
          if (allow(req, HttpMethod.GET)) {
            list(req);
          }
        }
        default -> {
          if (path.startsWith(CONNECTIONS + "/")) {
            if (allow(req, HttpMethod.DELETE) && authorized(req)) {
              kill(req, path.substring(CONNECTIONS.length() + 1));
            }
          } else {
            error(req, 404, "no such resource: " + truncate(path));
          }
        }
      }
    } catch (RuntimeException e) {
      log.error("conn=- admin request {} {} failed", req.method(), truncate(path), e);
      error(req, 500, "internal error");
    }
  }

  private static boolean allow(HttpServerRequest req, HttpMethod method) {
    if (req.method().equals(method)) {
      return true;
    }
    req.response().putHeader("Allow", method.name());
    error(req, 405, "method " + req.method().name() + " not allowed; use " + method.name());
    return false;
  }

  /** Checks the bearer token when one is configured (constant-time comparison); answers 401 otherwise. */
  private boolean authorized(HttpServerRequest req) {
    if (token == null) {
      return true;
    }
    String header = req.getHeader("Authorization");
    byte[] given = header != null && header.startsWith("Bearer ")
      ? header.substring(7).trim().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (MessageDigest.isEqual(given, token)) {
      return true;
    }
    log.warn("conn=- admin {} {} refused: {}", req.method(), truncate(req.path()),
      header == null ? "no bearer token" : "wrong bearer token");
    req.response().putHeader("WWW-Authenticate", "Bearer");
    error(req, 401, "a valid bearer token is required");
    return false;
  }

  private void list(HttpServerRequest req) {
    String raw = req.getParam("limit");
    int limit = DEFAULT_LIST_LIMIT;
    if (raw != null) {
      try {
        limit = Integer.parseInt(raw);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_LIST_LIMIT) {
        error(req, 400, "limit must be an integer between 1 and " + MAX_LIST_LIMIT + ", got \"" + truncate(raw) + "\"");
        return;
      }
    }
    int max = limit;
    List<Future<Message<JsonObject>>> replies = new ArrayList<>();
    for (int shard = 0; shard < shards; shard++) {
      replies.add(vertx.eventBus().request(Addresses.registryQuery(shard),
        new JsonObject().put("op", "list").put("limit", max)));
    }
    Future.all(replies).onComplete(ar -> {
      if (ar.failed()) {
        error(req, 503, "registry unavailable");
        return;
      }
      List<JsonObject> all = new ArrayList<>();
      int total = 0;
      for (Future<Message<JsonObject>> f : replies) {
        JsonObject body = f.result().body();
        total += body.getInteger("total");
        body.getJsonArray("connections").forEach(o -> all.add((JsonObject) o));
      }
      all.sort(Comparator.comparingLong(o -> o.getLong("id")));
      JsonArray page = new JsonArray(new ArrayList<>(all.subList(0, Math.min(max, all.size()))));
      json(req, 200, new JsonObject().put("total", total).put("limit", max).put("connections", page));
    });
  }

  private void kill(HttpServerRequest req, String rawId) {
    long id;
    try {
      id = Long.parseLong(rawId);
    } catch (NumberFormatException e) {
      id = -1;
    }
    if (id < 1) {
      error(req, 400, "connection id must be a positive integer, got \"" + truncate(rawId) + "\"");
      return;
    }
    long target = id;
    vertx.eventBus().<JsonObject>request(Addresses.registryQuery(Addresses.shardOf(id, shards)),
      new JsonObject().put("op", "kill").put("id", id)).onComplete(ar -> {
        if (ar.failed()) {
          error(req, 503, "registry unavailable");
          return;
        }
        String status = ar.result().body().getString("status");
        switch (status) {
          case "closing" -> {
            log.info("conn={} closed by the admin API", target);
            json(req, 202, new JsonObject().put("id", target).put("status", status));
          }
          case "already-closing" -> error(req, 409, "connection " + target + " is already closing");
          default -> error(req, 404, "no open connection " + target);
        }
      });
  }

  private static String truncate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  private static void json(HttpServerRequest req, int status, JsonObject body) {
    req.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }

  private static void error(HttpServerRequest req, int status, String message) {
    json(req, status, new JsonObject().put("error", message));
  }
}
