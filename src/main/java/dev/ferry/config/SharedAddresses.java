package dev.ferry.config;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rules of routes that share one listening address: TLS passthrough routes, each taking the server names in its
 * {@code sni} (HAProxy's {@code use_backend ... if { req.ssl_sni ... }}, nginx's {@code ssl_preread} with a
 * {@code map}). One socket listens for all of them and the ClientHello chooses the route.
 * <ul>
 *   <li>Every route on the address has {@code tls.mode: passthrough}, the same host (as written) and a fixed port.</li>
 *   <li>A name (or wildcard) belongs to one route of the address; one route at most is the default (no {@code sni},
 *       or {@code *}).</li>
 *   <li>What happens before the route is chosen is the address's, so those keys agree:
 *       {@code proxy-protocol.accept}, {@code proxy-protocol.header-timeout}, {@code tls.handshake-timeout},
 *       {@code listen.backlog}.</li>
 * </ul>
 */
final class SharedAddresses {

  private SharedAddresses() {
  }

  /** True when two routes on colliding addresses may share one socket (the rest is checked by {@link #check}). */
  static boolean mayShare(RouteOptions a, RouteOptions b) {
    return a.tls().mode() == TlsMode.PASSTHROUGH && b.tls().mode() == TlsMode.PASSTHROUGH
        && a.listen().port() != 0 && a.listen().port() == b.listen().port()
        && a.listen().host().equalsIgnoreCase(b.listen().host());
  }

  /** Checks every group of routes sharing an address; messages name the later route's key. */
  static void check(List<RouteOptions> routes) {
    Map<String, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < routes.size(); i++) {
      RouteOptions r = routes.get(i);
      if (r.tls().mode() == TlsMode.PASSTHROUGH && r.listen().port() != 0) {
        groups.computeIfAbsent(r.listen().host().toLowerCase(java.util.Locale.ROOT) + "|" + r.listen().port(),
            k -> new ArrayList<>()).add(i);
      }
    }
    for (List<Integer> group : groups.values()) {
      if (group.size() > 1) {
        checkGroup(routes, group);
      }
    }
  }

  private static void checkGroup(List<RouteOptions> routes, List<Integer> group) {
    int first = group.get(0);
    RouteOptions lead = routes.get(first);
    Map<String, String> owners = new HashMap<>();
    Integer defaultRoute = null;
    for (int i : group) {
      RouteOptions r = routes.get(i);
      String at = "routes[" + i + "].";
      agree(at + "proxy-protocol.accept", first, "proxy-protocol.accept",
          lead.proxyProtocol().accept().configValue(), r.proxyProtocol().accept().configValue(), r);
      agree(at + "proxy-protocol.header-timeout", first, "proxy-protocol.header-timeout",
          Values.formatDuration(lead.proxyProtocol().headerTimeout()),
          Values.formatDuration(r.proxyProtocol().headerTimeout()), r);
      agree(at + "tls.handshake-timeout", first, "tls.handshake-timeout",
          Values.formatDuration(lead.tls().handshakeTimeout()), Values.formatDuration(r.tls().handshakeTimeout()), r);
      agree(at + "listen.backlog", first, "listen.backlog", String.valueOf(lead.listen().backlog()),
          String.valueOf(r.listen().backlog()), r);
      if (ServerNames.isDefault(r.sni())) {
        if (defaultRoute != null) {
          throw new ConfigException(at + "sni", "a second default route for " + r.listen() + " (routes["
              + defaultRoute + "] has no sni or \"*\"): give each route of a shared address its own names");
        }
        defaultRoute = i;
      }
      for (int n = 0; n < r.sni().size(); n++) {
        String name = r.sni().get(n);
        if (name.equals(ServerNames.ANY)) {
          continue;
        }
        String owner = owners.putIfAbsent(name, "routes[" + i + "].sni[" + n + "]");
        if (owner != null) {
          throw new ConfigException(at + "sni[" + n + "]", "also " + owner + " on " + r.listen() + ", got "
              + Values.quote(name));
        }
      }
    }
  }

  private static void agree(String key, int first, String firstKey, String leadValue, String value, RouteOptions r) {
    if (!leadValue.equals(value)) {
      throw new ConfigException(key, "must equal routes[" + first + "]." + firstKey + " (" + leadValue + ") on the "
          + "shared address " + r.listen() + ", got " + value);
    }
  }
}
