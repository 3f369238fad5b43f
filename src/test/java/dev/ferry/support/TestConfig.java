package dev.ferry.support;

import dev.ferry.config.FerryOptions;
import dev.ferry.config.TransportMode;
import dev.ferry.config.UpstreamAddress;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

import java.time.Duration;
import java.util.Collection;

/**
 * A test's configuration, written as a YAML file would be (dotted keys, configuration values) and read by Ferry's own
 * parser ({@link FerryOptions#fromJson}), so a test configures Ferry exactly as an operator does. Values: strings,
 * numbers, booleans, {@link Duration}s (exact milliseconds), {@link UpstreamAddress}es and collections of them,
 * {@link TransportMode}s.
 */
public final class TestConfig {

  private final JsonObject json = new JsonObject();

  /** Sets {@code dottedKey} ({@code buffer.soft-limit}) to {@code value} at the top level. */
  public TestConfig set(String dottedKey, Object value) {
    put(json, dottedKey, value);
    return this;
  }

  /**
   * Adds a route named {@code name} on 127.0.0.1 and an ephemeral port with these upstreams (none: the embedded echo
   * upstream); the top level's own {@code listen} and {@code upstreams} go, as routes give their own.
   */
  public TestConfig route(String name, UpstreamAddress... upstreams) {
    json.remove("listen");
    json.remove("upstreams");
    JsonArray routes = json.getJsonArray("routes");
    if (routes == null) {
      routes = new JsonArray();
      json.put("routes", routes);
    }
    JsonObject route = new JsonObject().put("name", name)
      .put("listen", new JsonObject().put("host", "127.0.0.1").put("port", 0));
    put(route, "upstreams", java.util.List.of(upstreams));
    routes.add(route);
    return this;
  }

  /** Sets {@code dottedKey} in the route named {@code name}. */
  public TestConfig routeSet(String name, String dottedKey, Object value) {
    JsonArray routes = json.getJsonArray("routes");
    for (int i = 0; routes != null && i < routes.size(); i++) {
      if (name.equals(routes.getJsonObject(i).getString("name"))) {
        put(routes.getJsonObject(i), dottedKey, value);
        return this;
      }
    }
    throw new IllegalArgumentException("no route " + name);
  }

  /** The configuration as the mapping a YAML file would give. */
  public JsonObject json() {
    return json.copy();
  }

  /** The configuration in YAML (as JSON, which YAML reads). */
  public String yaml() {
    return json.encodePrettily();
  }

  /** Read by Ferry's parser: fails as Ferry would, naming the key. */
  public FerryOptions options() {
    return FerryOptions.fromJson(json.copy());
  }

  private static void put(JsonObject root, String dottedKey, Object value) {
    JsonObject at = root;
    String[] parts = dottedKey.split("\\.");
    for (int i = 0; i < parts.length - 1; i++) {
      JsonObject next = at.getJsonObject(parts[i]);
      if (next == null) {
        next = new JsonObject();
        at.put(parts[i], next);
      }
      at = next;
    }
    at.put(parts[parts.length - 1], value(value));
  }

  private static Object value(Object value) {
    if (value instanceof Duration d) {
      return d.toMillis() + "ms";
    }
    if (value instanceof UpstreamAddress u) {
      return u.toString();
    }
    if (value instanceof TransportMode t) {
      return t.configValue();
    }
    if (value instanceof Collection<?> c) {
      JsonArray array = new JsonArray();
      c.forEach(v -> array.add(value(v)));
      return array;
    }
    return value;
  }
}
