package dev.ferry.admin;

import dev.ferry.registry.Addresses;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

import static dev.ferry.admin.AdminReplies.allow;
import static dev.ferry.admin.AdminReplies.error;
import static dev.ferry.admin.AdminReplies.json;
import static dev.ferry.admin.AdminReplies.truncate;

/**
 * {@code GET /connections?limit=N} (a listing: it shows client addresses) and {@code DELETE /connections/{id}} (a
 * mutation), both answered from the registry shards over the event bus. A kill goes through the registry like any
 * other fault: it only publishes.
 */
final class ConnectionsApi {

  private static final Logger log = LoggerFactory.getLogger(ConnectionsApi.class);

  static final String PATH = "/connections";

  private final Vertx vertx;
  private final int shards;
  private final AdminAuth auth;

  ConnectionsApi(Vertx vertx, int shards, AdminAuth auth) {
    this.vertx = vertx;
    this.shards = shards;
    this.auth = auth;
  }

  /** {@code path} is {@code /connections} or starts with {@code /connections/}. */
  void handle(HttpServerRequest req, String path) {
    if (path.equals(PATH)) {
      if (allow(req, HttpMethod.GET) && auth.permit(req, AdminAuth.Access.LISTING)) {
        list(req);
      }
    } else if (allow(req, HttpMethod.DELETE) && auth.permit(req, AdminAuth.Access.MUTATION)) {
      kill(req, path.substring(PATH.length() + 1));
    }
  }

  private void list(HttpServerRequest req) {
    String raw = req.getParam("limit");
    int limit = AdminVerticle.DEFAULT_LIST_LIMIT;
    if (raw != null) {
      try {
        limit = Integer.parseInt(raw);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > AdminVerticle.MAX_LIST_LIMIT) {
        error(req, 400, "limit must be an integer between 1 and " + AdminVerticle.MAX_LIST_LIMIT + ", got \""
          + truncate(raw) + "\"");
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
}
