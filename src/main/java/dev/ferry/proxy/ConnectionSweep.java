package dev.ferry.proxy;

import dev.ferry.config.RouteOptions;
import dev.ferry.metrics.RouteMeters;
import dev.ferry.registry.ConnectionInfo;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;

/**
 * What the listener's sweep keeps for one connection: the quiet clock behind its idle and half-closed timers, whether
 * it already found an end, and the bytes already reported to the meters.
 * <p>
 * Quiet means no byte moved either way (read, or taken by a sink); a spliced direction says itself how long its pipe
 * has been quiet. The clock restarts when the upstream connects and at the first FIN.
 * <p>
 * Invariants: it finds at most one end per connection (a reset after a FIN, or a timer), which the connection
 * publishes; bytes are reported as deltas, so each counter adds up to the connection's totals exactly once.
 * <p>
 * Threading: the connection's event loop.
 */
final class ConnectionSweep {

  /** An end the sweep found: the connection publishes it. */
  record End(CloseReason reason, Side side, String detail) {
  }

  private long quietSinceNanos;
  private long lastActivity;
  /** An end was found: no other is. */
  private boolean found;
  private long reportedUp;
  private long reportedDown;

  /** Something moved that the relays' counters do not show (the connect, a FIN): the quiet clock restarts. */
  void restart(long nowNanos) {
    quietSinceNanos = nowNanos;
  }

  /**
   * The end a sweep at {@code nowNanos} finds, or null: a reset after a FIN (which a paused or FIN'd socket reports to
   * nobody else), else the half-closed timeout once a side sent its FIN, else the idle timeout.
   *
   * @param firstFin the side whose FIN came first, or null
   */
  End check(long nowNanos, Relay up, Relay down, Side firstFin, RouteOptions route) {
    if (firstFin != null && !found) {
      for (Relay relay : new Relay[] {up, down}) {
        if (relay.resetAfterFin()) {
          found = true;
          return new End(CloseReason.PEER_RESET, relay == up ? Side.CLIENT : Side.UPSTREAM,
            "reset after its FIN (seen by the sweep)");
        }
      }
    }
    long activity = up.activity() + down.activity();
    long splicedQuiet = FaultText.leastQuiet(up.splicedQuietMillis(), down.splicedQuietMillis());
    if (splicedQuiet >= 0) {
      quietSinceNanos = Math.max(quietSinceNanos, nowNanos - splicedQuiet * 1_000_000);
    }
    if (activity != lastActivity) {
      lastActivity = activity;
      quietSinceNanos = nowNanos;
      return null;
    }
    if (found) {
      return null;
    }
    long quiet = nowNanos - quietSinceNanos;
    long halfClosedTimeoutNanos = route.close().halfClosedTimeout().toNanos();
    long idleTimeoutNanos = route.idleTimeout().toNanos();
    if (firstFin != null && halfClosedTimeoutNanos > 0 && quiet >= halfClosedTimeoutNanos) {
      found = true;
      return new End(CloseReason.HALF_CLOSED_TIMEOUT, Side.PROXY, "the " + firstFin.label() + " sent its FIN and no "
        + "byte moved for " + halfClosedTimeoutNanos / 1_000_000 + " ms");
    }
    if (idleTimeoutNanos > 0 && quiet >= idleTimeoutNanos) {
      found = true;
      return new End(CloseReason.IDLE_TIMEOUT, Side.PROXY, "no byte moved for " + idleTimeoutNanos / 1_000_000
        + " ms");
    }
    return null;
  }

  /** Adds what moved since the last report to the route's byte counters and the connection's info. */
  void reportBytes(Relay up, Relay down, RouteMeters meters, ConnectionInfo info) {
    long upBytes = up.bytes();
    long downBytes = down == null ? 0 : down.bytes();
    if (upBytes != reportedUp || downBytes != reportedDown) {
      meters.bytes(Direction.UPSTREAM, upBytes - reportedUp);
      meters.bytes(Direction.DOWNSTREAM, downBytes - reportedDown);
      reportedUp = upBytes;
      reportedDown = downBytes;
      info.bytes(upBytes, downBytes);
    }
  }
}
