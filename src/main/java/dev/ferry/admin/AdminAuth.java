package dev.ferry.admin;

import io.vertx.core.http.HttpServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

/**
 * Who may do what on the admin port. Secure by default, as Envoy's admin (localhost) and HAProxy's stats socket
 * (local) are: the admin port is often reachable from a whole cluster (the Service exposes it for scraping).
 * <pre>
 *                      no admin.token             admin.token set
 *   OPEN      (/metrics, /health/*)   200                200
 *   LISTING   (GET /connections, /routes)  200           401 without "Authorization: Bearer &lt;token&gt;"
 *   MUTATION  (kill, drain, ready)    403, always        401 without the bearer token
 * </pre>
 * The comparison is constant-time ({@link MessageDigest#isEqual}); whitespace around the configured token (a Secret
 * made from a file ends in a newline) and around the presented one is ignored. Stateless and immutable: any thread.
 */
final class AdminAuth {

  private static final Logger log = LoggerFactory.getLogger(AdminAuth.class);

  static final String MUTATIONS_DISABLED =
    "admin mutations are disabled: set admin.token (FERRY_ADMIN_TOKEN) to enable them";
  static final String TOKEN_REQUIRED = "a valid bearer token is required";

  /** What a request does, which decides what it needs. */
  enum Access { OPEN, LISTING, MUTATION }

  private final byte[] token;

  /** @param token the configured token, or null for none */
  AdminAuth(String token) {
    String t = token == null ? "" : token.strip();
    this.token = t.isEmpty() ? null : t.getBytes(StandardCharsets.UTF_8);
  }

  boolean tokenConfigured() {
    return token != null;
  }

  /** True when {@code req} may have {@code access}; otherwise it has been answered (403 or 401). */
  boolean permit(HttpServerRequest req, Access access) {
    if (access == Access.OPEN || (token == null && access == Access.LISTING)) {
      return true;
    }
    if (token == null) {
      log.warn("conn=- admin {} {} from {} refused: mutations are disabled without admin.token", req.method(),
        AdminReplies.truncate(req.path()), req.remoteAddress());
      AdminReplies.error(req, 403, MUTATIONS_DISABLED);
      return false;
    }
    String header = req.getHeader("Authorization");
    byte[] given = header != null && header.startsWith("Bearer ")
      ? header.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (MessageDigest.isEqual(given, token)) {
      return true;
    }
    log.warn("conn=- admin {} {} from {} refused: {}", req.method(), AdminReplies.truncate(req.path()),
      req.remoteAddress(), header == null ? "no bearer token" : "wrong bearer token");
    req.response().putHeader("WWW-Authenticate", "Bearer");
    AdminReplies.error(req, 401, TOKEN_REQUIRED);
    return false;
  }
}
