package dev.ferry.admin;

import dev.ferry.metrics.LogThrottle;
import io.vertx.core.http.HttpServerRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;

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
 * made from a file ends in a newline) and around the presented one is ignored. Refusals are logged at most once per
 * 10 s per kind, with the count. Thread-safe: the token is immutable, the throttle lock-free.
 */
final class AdminAuth {

  private static final Logger log = LoggerFactory.getLogger(AdminAuth.class);

  static final String MUTATIONS_DISABLED =
    "admin mutations are disabled: set admin.token (FERRY_ADMIN_TOKEN) to enable them";
  static final String TOKEN_REQUIRED = "a valid bearer token is required";

  /** What a request does, which decides what it needs. */
  enum Access { OPEN, LISTING, MUTATION }

  /** Why a request was refused: the key of the refusals' log throttle. */
  private enum Refusal { DISABLED, NO_TOKEN, WRONG_TOKEN }

  private final byte[] token;
  /** A refusal costs a counted log line, not a line each: a client hammering the port cannot flood the log. */
  private final LogThrottle<Refusal> refusals = new LogThrottle<>(Refusal.class, Duration.ofSeconds(10));

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
      refused(req, Refusal.DISABLED, "mutations are disabled without admin.token");
      AdminReplies.error(req, 403, MUTATIONS_DISABLED);
      return false;
    }
    String header = req.getHeader("Authorization");
    byte[] given = header != null && header.startsWith("Bearer ")
      ? header.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
    if (MessageDigest.isEqual(given, token)) {
      return true;
    }
    if (header == null) {
      refused(req, Refusal.NO_TOKEN, "no bearer token");
    } else {
      refused(req, Refusal.WRONG_TOKEN, "wrong bearer token");
    }
    req.response().putHeader("WWW-Authenticate", "Bearer");
    AdminReplies.error(req, 401, TOKEN_REQUIRED);
    return false;
  }

  private void refused(HttpServerRequest req, Refusal why, String reason) {
    long n = refusals.event(why);
    if (n > 0) {
      log.warn("conn=- admin {} {} from {} refused: {} ({} refused so since the last such line)", req.method(),
        AdminReplies.truncate(req.path()), req.remoteAddress(), reason, n);
    }
  }
}
