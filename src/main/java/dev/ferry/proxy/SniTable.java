package dev.ferry.proxy;

import dev.ferry.config.ServerNames;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The routes of one listening address by server name: exact names first, then a wildcard one label up
 * ({@code *.example.com} takes {@code a.example.com}, not {@code a.b.example.com}, as a certificate's wildcard), then
 * the default route (no {@code sni}, or {@code *}), if any. Config validation made the names unique per address.
 * Immutable, shared by the listeners.
 */
final class SniTable<T> {

  private final Map<String, T> names = new HashMap<>();
  private T fallback;

  /** Adds a route's names ({@code sni}, normalized); the empty list or {@code *} makes it the default. */
  void add(List<String> sni, T route) {
    if (ServerNames.isDefault(sni)) {
      fallback = route;
    }
    for (String name : sni) {
      if (!name.equals(ServerNames.ANY)) {
        names.put(name, route);
      }
    }
  }

  /** The route for {@code serverName} (null: the ClientHello named none), or null when no route takes it. */
  T choose(String serverName) {
    if (serverName == null) {
      return fallback;
    }
    String name = serverName.toLowerCase(Locale.ROOT);
    if (name.endsWith(".")) {
      name = name.substring(0, name.length() - 1);
    }
    T exact = names.get(name);
    if (exact != null) {
      return exact;
    }
    int dot = name.indexOf('.');
    if (dot > 0) {
      T wild = names.get("*" + name.substring(dot));
      if (wild != null) {
        return wild;
      }
    }
    return fallback;
  }

  T fallback() {
    return fallback;
  }
}
