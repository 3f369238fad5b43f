package dev.ferry.proxy;

import io.netty.channel.Channel;

import java.util.List;

/**
 * One listening address of a listener: a route's, or the one several TLS passthrough routes share. A shared
 * address's connections start in its lead route (its default route, else its first) until their ClientHello
 * chooses one ({@link SniTable}).
 * <p>
 * Threading: built once per listener; {@link #server} is set on its event loop when the bind completes.
 */
final class Listening {
  final List<ListenerVerticle.Served> routes;
  final ListenerVerticle.Served lead;
  final SniTable<ListenerVerticle.Served> names = new SniTable<>();
  Channel server;

  Listening(List<ListenerVerticle.Served> routes) {
    this.routes = List.copyOf(routes);
    for (ListenerVerticle.Served s : routes) {
      names.add(s.route.options().sni(), s);
    }
    this.lead = names.fallback() != null && routes.size() > 1 ? names.fallback() : routes.get(0);
  }

  /** True when several routes share the address: the route of a connection is chosen after the accept. */
  boolean shared() {
    return routes.size() > 1;
  }
}
