package dev.ferry.admin;

import dev.ferry.config.AdminOptions;
import dev.ferry.proxy.ProxyContext;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.VerticleBase;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;
import io.vertx.micrometer.PrometheusRequestHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.function.BooleanSupplier;

import static dev.ferry.admin.AdminReplies.allow;
import static dev.ferry.admin.AdminReplies.error;
import static dev.ferry.admin.AdminReplies.json;
import static dev.ferry.admin.AdminReplies.truncate;

/**
 * The admin and metrics port.
 * <ul>
 *   <li>{@code GET /metrics}: Prometheus text (Ferry's meters, Vert.x's and the JVM's). Open.</li>
 *   <li>{@code GET /health/live}: 200 while the process serves requests. Open.</li>
 *   <li>{@code GET /health/ready}: 200 when listeners are bound and the registry is up; 503 otherwise and while
 *       draining. Open.</li>
 *   <li>{@code GET /connections?limit=N}, {@code DELETE /connections/{id}}: {@link ConnectionsApi}.</li>
 *   <li>{@code GET /routes}, {@code GET /routes/{route}}, {@code POST /routes/{route}/upstreams/{host:port}/drain}
 *       and {@code .../ready}: {@link RoutesApi}.</li>
 * </ul>
 * Who may do what: {@link AdminAuth} (every mutation is refused with 403 unless {@code admin.token} is set). How
 * many connections, for how long: {@link AdminConnectionBounds}. Every error is a JSON body
 * {@code {"error": "..."}}; no stack trace ever reaches a response.
 */
public final class AdminVerticle extends VerticleBase {

  private static final Logger log = LoggerFactory.getLogger(AdminVerticle.class);

  public static final int DEFAULT_LIST_LIMIT = 100;
  public static final int MAX_LIST_LIMIT = 10_000;

  private final AdminOptions options;
  private final int shards;
  private final PrometheusMeterRegistry registry;
  private final BooleanSupplier ready;
  private final AdminAuth auth;
  private final ProxyContext proxy;
  private Handler<HttpServerRequest> metricsHandler;
  private ConnectionsApi connections;
  private RoutesApi routes;
  private AdminConnectionBounds bounds;
  private volatile int actualPort = -1;

  /**
   * @param options the admin section: address, token (what mutations and listings require) and connection bounds
   * @param proxy   the routes, for the routes' listing and drain
   */
  public AdminVerticle(AdminOptions options, int shards, PrometheusMeterRegistry registry, BooleanSupplier ready,
                       ProxyContext proxy) {
    this.options = options;
    this.auth = new AdminAuth(options.token());
    this.proxy = proxy;
    this.shards = shards;
    this.registry = registry;
    this.ready = ready;
  }

  @Override
  public Future<?> start() {
    metricsHandler = PrometheusRequestHandler.create(registry);
    connections = new ConnectionsApi(vertx, shards, auth);
    routes = new RoutesApi(proxy, auth);
    bounds = new AdminConnectionBounds(vertx, options, proxy.metrics());
    // HTTP/1.1 only: what Prometheus and kubelet probes speak; no h2c upgrade path on the admin port.
    HttpServer server = vertx.createHttpServer(bounds.apply(new HttpServerOptions().setHost(options.host())
      .setPort(options.port()).setHttp2ClearTextEnabled(false)));
    server.connectionHandler(bounds::connected);
    server.requestHandler(req -> {
      if (bounds.requestStarted(req)) {
        route(req);
      }
    });
    if (!auth.tokenConfigured()) {
      log.warn("conn=- admin: no admin.token set: mutations (kill, drain, ready) are refused with 403; set "
        + "admin.token (FERRY_ADMIN_TOKEN) to enable them");
    }
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
        default -> {
          if (path.equals(ConnectionsApi.PATH) || path.startsWith(ConnectionsApi.PATH + "/")) {
            connections.handle(req, path);
          } else if (path.equals(RoutesApi.PATH) || path.startsWith(RoutesApi.PATH + "/")) {
            routes.handle(req, path);
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
}
