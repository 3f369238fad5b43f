package dev.ferry.proxy;

import dev.ferry.upstream.Tried;
import dev.ferry.upstream.Upstream;
import dev.ferry.upstream.UpstreamPool;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ConnectTimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Dials one connection's upstream: chooses from the route's pool an upstream not tried yet for this client, connects
 * (then the route's {@link UpstreamStart}: a PROXY header, a TLS handshake), retries up to {@code connect.attempts},
 * and hands one outcome to its {@link ProxyConnection}.
 * <pre>
 *  dial ──► attempt n in flight ──connected──► the connection links its relays (it keeps the upstream)
 *              │ failed, n &lt; attempts ──► attempt n+1, to an upstream not tried yet while one remains
 *              │ failed at the last attempt, no upstream to try, out of descriptors ──► the connection publishes it
 *              └ completed after the release began ──► handed back to the connection, which closes it
 * </pre>
 * Invariants: at most one attempt is in flight. The pool hears {@code opened} once per attempt and {@code closed}
 * once for it: at once for a failed attempt, at the connection's end ({@link #released}) for the connected one or
 * one the release aborted. Passive health hears an attempt's outcome once, and never the failure of an attempt the
 * release aborted (not the upstream's fault). It closes no channel and publishes nothing itself: the connection is
 * the release point and the one publisher.
 * <p>
 * Threading: the connection's event loop.
 */
final class UpstreamDialer {

  private static final Logger log = LoggerFactory.getLogger(UpstreamDialer.class);

  private final ProxyConnection conn;
  private final ListenerVerticle owner;
  /** Upstreams tried so far: each retry goes to another while one remains. */
  private final Tried tried = new Tried();
  private ListenerVerticle.Served served;
  private String source;
  /** The pool's upstream of the attempt in flight or of the connected channel, or null. */
  private Upstream target;
  /** The channel of the attempt in flight, or null. */
  private Channel inFlight;

  UpstreamDialer(ProxyConnection conn, ListenerVerticle owner) {
    this.conn = conn;
    this.owner = owner;
  }

  /** Starts the first attempt for a client of {@code served}'s route; {@code source} is what source-hash hashes. */
  void dial(ListenerVerticle.Served served, String source) {
    this.served = served;
    this.source = source;
    attempt(1);
  }

  /** The channel of the attempt in flight, or null: the release closes it, which ends the attempt. */
  Channel inFlight() {
    return inFlight;
  }

  /** At the connection's end: the pool gets back the place of its upstream, once. */
  void released() {
    if (target != null) {
      served.route.pool().closed(target);
      target = null;
    }
  }

  private void attempt(int attempt) {
    UpstreamPool pool = served.route.pool();
    Upstream u = pool.choose(source, tried);
    if (u == null) {
      conn.fault(CloseReason.CONNECT_FAILED, Side.UPSTREAM, "no upstream to try in route " + served.route.name()
        + " (every one draining, or none healthy and no panic)");
      return;
    }
    pool.opened(u);
    target = u;
    long startNanos = System.nanoTime();
    // A relay per attempt: a handler belongs to one pipeline, and a failed attempt's channel keeps its own.
    Relay relay = conn.newRelay(Direction.DOWNSTREAM);
    ChannelFuture f = owner.connect(served, u.socketAddress(), relay);
    if (f.isDone() && !f.isSuccess()) {
      // Already over: a channel Netty could not even create (EMFILE at socket()) comes back failed on its
      // GlobalEventExecutor, whose thread would run a listener; handled here, on this event loop, instead.
      done(attempt, u, relay, startNanos, f);
      return;
    }
    UpstreamStart start = served.route.upstreamStart();
    if (start != null) {
      f = start.after(f, conn, conn.headerClient(), conn.headerDestination(), u);
    }
    inFlight = f.channel();
    f.addListener(result -> done(attempt, u, relay, startNanos, (ChannelFuture) result));
  }

  private void done(int attempt, Upstream u, Relay relay, long startNanos, ChannelFuture f) {
    inFlight = null;
    long now = System.nanoTime();
    served.route.meters().connectAttempt(f.isSuccess(), now - startNanos);
    UpstreamPool pool = served.route.pool();
    if (conn.releasing()) {
      // The release aborted this connect (it closed the channel): not the upstream's failure. Or the connect won the
      // race: the connection closes it all the same.
      if (f.isSuccess()) {
        pool.connectSucceeded(u);
      }
      conn.connectedTooLate(f.isSuccess() ? f.channel() : null);
      return;
    }
    if (f.isSuccess()) {
      pool.connectSucceeded(u);
      conn.upstreamConnected(f.channel(), relay, u, attempt, now);
      return;
    }
    Throwable cause = f.cause() != null ? f.cause() : new IllegalStateException("connect cancelled");
    if (DescriptorBudget.outOfDescriptors(cause)) {
      // Ferry's own shortage, not the upstream's: no passive-health failure (it would eject healthy upstreams), no
      // retry (every upstream needs a socket). The client is refused as over a limit, which it is.
      pool.closed(u);
      target = null;
      conn.fault(CloseReason.LIMIT, Side.PROXY, "no descriptor left for an upstream socket (attempt " + attempt
        + " to " + u + "): " + FaultText.describe(cause));
      return;
    }
    pool.connectFailed(u, cause);
    pool.closed(u);
    target = null;
    if (attempt < served.route.options().connect().attempts()) {
      log.debug("conn={} connect attempt {} to {} failed: {}; trying the next upstream", conn.id(), attempt, u,
        FaultText.describe(cause));
      attempt(attempt + 1);
    } else if (cause instanceof UpstreamStart.HandshakeFailed tls) {
      conn.tlsError(Side.UPSTREAM, tls.cause, "attempt " + attempt + " to " + u + ": TLS handshake: "
        + tls.getMessage());
    } else {
      CloseReason reason = cause instanceof ConnectTimeoutException ? CloseReason.CONNECT_TIMEOUT
        : CloseReason.CONNECT_FAILED;
      conn.fault(reason, Side.UPSTREAM, "attempt " + attempt + " to " + u + ": " + FaultText.describe(cause));
    }
  }
}
