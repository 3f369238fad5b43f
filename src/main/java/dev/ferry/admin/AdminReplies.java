package dev.ferry.admin;

import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonObject;

/**
 * How every admin answer is written: JSON bodies, {@code {"error": "..."}} for every 4xx and 5xx, never a stack
 * trace. Echoed input is truncated, so a long path costs nothing but its own bytes.
 */
final class AdminReplies {

  private AdminReplies() {
  }

  /** True when the request uses {@code method}; answers 405 with {@code Allow} otherwise. */
  static boolean allow(HttpServerRequest req, HttpMethod method) {
    if (req.method().equals(method)) {
      return true;
    }
    req.response().putHeader("Allow", method.name());
    error(req, 405, "method " + req.method().name() + " not allowed; use " + method.name());
    return false;
  }

  static String truncate(String s) {
    return s.length() <= 64 ? s : s.substring(0, 64) + "...";
  }

  static void json(HttpServerRequest req, int status, JsonObject body) {
    req.response().setStatusCode(status).putHeader("Content-Type", "application/json").end(body.encode());
  }

  static void error(HttpServerRequest req, int status, String message) {
    json(req, status, new JsonObject().put("error", message));
  }
}
