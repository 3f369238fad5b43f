package dev.ferry.proxy;

/**
 * What one connection took of the connection limits, so that its release gives back exactly that, once.
 * <ul>
 *   <li>The process's total: at the accept, always.</li>
 *   <li>The route's total: at the accept, unless the address is shared by several routes: then once the ClientHello
 *       chose the route.</li>
 *   <li>The route's per-source count: at the accept, unless the route accepts a PROXY protocol header (the client is
 *       the header's, after it) or the address is shared (after the ClientHello).</li>
 * </ul>
 * Threading: the connection's event loop; the limits themselves are thread-safe.
 */
final class Admission {

  private final ConnectionLimits process;
  /** The detail of a refusal by the process's limit (it may be lowered to fit the descriptor limit). */
  private final java.util.function.Supplier<String> processDetail;
  private boolean processTaken;
  private ConnectionLimits route;
  private boolean routeTotalTaken;
  /** The source counted in the route's per-source limit, or null. */
  private String sourceTaken;

  Admission(ConnectionLimits process, java.util.function.Supplier<String> processDetail) {
    this.process = process;
    this.processDetail = processDetail;
  }

  /** Takes the process's place; null when admitted, else why not. */
  String admitProcess() {
    if (!process.admitTotal()) {
      return processDetail.get();
    }
    processTaken = true;
    return null;
  }

  /** Takes the route's total place; null when admitted, else why not ({@code keys}: the route's key prefix). */
  String admitRoute(ConnectionLimits limits, String keys) {
    if (!limits.admitTotal()) {
      return "over " + keys + "limits.max-connections (" + limits.maxTotal() + ")";
    }
    route = limits;
    routeTotalTaken = true;
    return null;
  }

  /** Takes {@code source}'s place in the route's per-source limit (after {@link #admitRoute}); null when admitted. */
  String admitSource(String source, String keys) {
    if (!route.admitSource(source)) {
      return "over " + keys + "limits.max-connections-per-source (" + route.maxPerSource() + ") for " + source;
    }
    sourceTaken = source;
    return null;
  }

  /**
   * Takes what the route has not admitted yet (after the preamble: the route a ClientHello chose, the source a PROXY
   * header named); null when admitted, else why not.
   */
  String admitRemaining(ConnectionLimits limits, String source, String keys) {
    if (!routeTotalTaken) {
      String refusal = admitRoute(limits, keys);
      if (refusal != null) {
        return refusal;
      }
    }
    return sourceTaken == null ? admitSource(source, keys) : null;
  }

  /** True once the route admitted the connection entirely (its total and its source). */
  boolean routeAdmitted() {
    return routeTotalTaken && sourceTaken != null;
  }

  /** Gives back everything taken. Called once, when the release is acknowledged. */
  void release() {
    if (sourceTaken != null) {
      route.releaseSource(sourceTaken);
      sourceTaken = null;
    }
    if (routeTotalTaken) {
      route.releaseTotal();
      routeTotalTaken = false;
    }
    if (processTaken) {
      process.releaseTotal();
      processTaken = false;
    }
  }
}
