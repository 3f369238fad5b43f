package dev.ferry.admin;

import dev.ferry.config.RouteOptions;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.proxy.ProxyContext;
import dev.ferry.proxy.Route;
import dev.ferry.upstream.UpstreamPool;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

import static dev.ferry.admin.AdminReplies.allow;
import static dev.ferry.admin.AdminReplies.error;
import static dev.ferry.admin.AdminReplies.json;
import static dev.ferry.admin.AdminReplies.truncate;

/**
 * The routes and their pools, and the operator's drain (HAProxy's {@code set server state drain|ready}):
 * <pre>
 *   GET  /routes                                           200 {"routes": [route...]}
 *   GET  /routes/{route}                                   200 route | 404
 *   POST /routes/{route}/upstreams/{host:port}/drain       202 {"route", "upstream": {...}, "changed"} | 404 | 400
 *   POST /routes/{route}/upstreams/{host:port}/ready       200 the same
 * </pre>
 * A route is its name, its listen address (configured and bound port), whether it proxies to the embedded echo
 * upstream, its limits, and its pool's {@link UpstreamPool#describe()} (balance, panic, and per upstream its state,
 * weight, active connections, failures, ejections and last check). A drain stops new clients at once (the pool's
 * next {@code choose} skips it) while open connections continue, so it answers 202; ready is complete when answered
 * (200). Both are idempotent ({@code changed} says whether the state moved) and survive a reload for an upstream that
 * stays ({@link UpstreamPool#replace} keeps its state).
 * <p>
 * {@code {host:port}} is the upstream as configured; an IPv6 one percent-encoded ({@code %5B::1%5D:7001}) or bare.
 * Threading: the pool's admin operations are synchronised; any thread.
 */
final class RoutesApi {

  private static final Logger log = LoggerFactory.getLogger(RoutesApi.class);

  static final String PATH = "/routes";
  private static final Pattern ROUTE_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?");

  private final ProxyContext proxy;
  private final AdminAuth auth;

  RoutesApi(ProxyContext proxy, AdminAuth auth) {
    this.proxy = proxy;
    this.auth = auth;
  }

  /** {@code path} is {@code /routes} or starts with {@code /routes/}. */
  void handle(HttpServerRequest req, String path) {
    if (path.equals(PATH)) {
      if (allow(req, HttpMethod.GET) && auth.permit(req, AdminAuth.Access.LISTING)) {
        JsonArray routes = new JsonArray();
        proxy.routes().forEach(r -> routes.add(describe(r)));
        json(req, 200, new JsonObject().put("routes", routes));
      }
      return;
    }
    String[] parts = path.substring(PATH.length() + 1).split("/", -1);
    if (parts.length == 1) {
      if (allow(req, HttpMethod.GET) && auth.permit(req, AdminAuth.Access.LISTING)) {
        Route route = route(req, parts[0]);
        if (route != null) {
          json(req, 200, describe(route));
        }
      }
    } else if (parts.length == 4 && parts[1].equals("upstreams")
        && (parts[3].equals("drain") || parts[3].equals("ready"))) {
      if (allow(req, HttpMethod.POST) && auth.permit(req, AdminAuth.Access.MUTATION)) {
        setState(req, parts[0], parts[2], parts[3].equals("drain"));
      }
    } else {
      error(req, 404, "no such resource: " + truncate(path));
    }
  }

  private void setState(HttpServerRequest req, String routeName, String rawUpstream, boolean drain) {
    Route route = route(req, routeName);
    if (route == null) {
      return;
    }
    String label;
    try {
      label = UpstreamAddress.parse(URLDecoder.decode(rawUpstream.replace("+", "%2B"), StandardCharsets.UTF_8))
        .toString();
    } catch (IllegalArgumentException e) {
      error(req, 400, "upstream must be host:port as configured: " + truncate(e.getMessage()));
      return;
    }
    UpstreamPool pool = route.pool();
    JsonObject before = upstream(pool, label);
    boolean found = before != null && (drain ? pool.drain(label) : pool.ready(label));
    JsonObject after = found ? upstream(pool, label) : null;
    if (after == null) {
      error(req, 404, "route " + route.name() + " has no upstream " + truncate(label));
      return;
    }
    boolean changed = "draining".equals(before.getString("state")) != "draining".equals(after.getString("state"));
    log.info("conn=- admin: route {} upstream {} {} by {} ({})", route.name(), label, drain ? "drain" : "ready",
      req.remoteAddress(), changed ? "now " + after.getString("state") : "unchanged, " + after.getString("state"));
    json(req, drain ? 202 : 200, new JsonObject().put("route", route.name()).put("upstream", after)
      .put("changed", changed));
  }

  /** The route of that name, or null once the request is answered (400 malformed, 404 unknown). */
  private Route route(HttpServerRequest req, String name) {
    if (!ROUTE_NAME.matcher(name).matches()) {
      error(req, 400, "route name must be 1 to 63 of [a-z0-9-], got \"" + truncate(name) + "\"");
      return null;
    }
    Route route = proxy.route(name);
    if (route == null) {
      error(req, 404, "no route " + name);
    }
    return route;
  }

  /** The upstream's entry of the pool's description, or null when the pool has no such upstream. */
  private static JsonObject upstream(UpstreamPool pool, String label) {
    for (Object o : pool.describe().getJsonArray("upstreams")) {
      JsonObject u = (JsonObject) o;
      if (label.equals(u.getString("upstream"))) {
        return u;
      }
    }
    return null;
  }

  static JsonObject describe(Route route) {
    RouteOptions o = route.options();
    JsonObject json = new JsonObject()
      .put("route", route.name())
      .put("listen", new JsonObject().put("host", o.listen().host()).put("port", o.listen().port())
        .put("bound_port", route.boundPort()))
      .put("echo", route.echo())
      .put("limits", new JsonObject().put("max_connections", o.limits().maxConnections())
        .put("max_connections_per_source", o.limits().maxConnectionsPerSource()));
    JsonObject pool = route.pool().describe();
    pool.remove("route");
    return json.mergeIn(pool);
  }
}
