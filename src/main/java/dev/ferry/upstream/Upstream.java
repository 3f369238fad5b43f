package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import dev.ferry.config.PassiveHealthOptions;
import dev.ferry.config.UpstreamAddress;
import io.netty.channel.socket.ChannelOutputShutdownException;
import io.netty.util.NetUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One upstream of a pool, as the caller connects to it: a connectable {@link #socketAddress()} and its
 * {@link #label()}. An IP literal is resolved once, here, so its connects skip the resolver; a host name stays
 * unresolved so Netty's resolver (and its cache) resolves it at each connect and a Kubernetes Service name follows
 * its endpoints.
 * <p>
 * It also keeps the upstream's {@link HealthState} and active connection count, which survive a reload while the
 * upstream stays in the pool.
 * <p>
 * Threading: any thread. Events lock this object for a few field writes ({@code synchronized}, uncontended but
 * for upstreams that fail on several event loops at once: only failures, checks, drains and the first success
 * after a failure take it). After each event the state is published to volatile fields, which is all that
 * {@link UpstreamPool#choose} reads: picking never locks. A reader may see one event's fields half published,
 * which orders it before or after that event; nothing else.
 */
public final class Upstream {

  /** The last active check, as {@code describe()} shows it. */
  record LastCheck(long atEpochMillis, CheckResult result, String detail) {
  }

  private final String label;
  private final UpstreamAddress address;
  private final SocketAddress socketAddress;
  private final int slot;
  private final long hashKey;
  /** Guarded by {@code this}. */
  private final HealthState health;
  private final AtomicInteger active = new AtomicInteger();
  // The published view, written under the lock after every event.
  private volatile boolean draining;
  private volatile boolean up = true;
  private volatile boolean ejecting;
  private volatile long ejectedUntil;
  private volatile int failures;
  private volatile long ejections;
  private volatile String lastFailure;
  private volatile LastCheck lastCheck;
  /** Set by the pool; null while no pool exports this upstream (tests of balancers, or removed by a reload). */
  volatile UpstreamMeters meters;

  Upstream(UpstreamAddress address, int slot, PassiveHealthOptions passive, ActiveHealthOptions active) {
    this.address = address;
    this.label = address.toString();
    this.slot = slot;
    this.hashKey = SourceHash.of(label);
    InetAddress literal = NetUtil.createInetAddressFromIpAddressString(address.host());
    this.socketAddress = literal != null ? new InetSocketAddress(literal, address.port())
      : InetSocketAddress.createUnresolved(address.host(), address.port());
    this.health = new HealthState(passive, active);
  }

  /** The configured {@code host:port}: the metric label, the access log's upstream, the admin API's key. */
  public String label() {
    return label;
  }

  public UpstreamAddress address() {
    return address;
  }

  /** What to connect to: resolved for an IP literal, unresolved for a host name. */
  public SocketAddress socketAddress() {
    return socketAddress;
  }

  /** Clients assigned to this upstream and not yet done with it ({@link UpstreamPool#opened}, {@code closed}). */
  public int activeConnections() {
    return active.get();
  }

  @Override
  public String toString() {
    return label;
  }

  int slot() {
    return slot;
  }

  long hashKey() {
    return hashKey;
  }

  // ---- lock-free reads of the published view ----------------------------------------------------------------

  boolean draining() {
    return draining;
  }

  boolean healthy(long now) {
    return up && !(ejecting && now - ejectedUntil < 0);
  }

  boolean eligible(long now) {
    return !draining && healthy(now);
  }

  boolean ejected(long now) {
    return ejecting && now - ejectedUntil < 0;
  }

  boolean up() {
    return up;
  }

  long ejectedUntil() {
    return ejectedUntil;
  }

  int consecutiveFailures() {
    return failures;
  }

  long ejections() {
    return ejections;
  }

  String lastFailure() {
    return lastFailure;
  }

  LastCheck lastCheck() {
    return lastCheck;
  }

  // ---- events -----------------------------------------------------------------------------------------------

  /** @return true if this failure ejected the upstream */
  boolean connectFailed(long now, String detail) {
    synchronized (this) {
      long before = health.ejections();
      health.connectFailed(now);
      lastFailure = detail;
      publish(now);
      return health.ejections() != before;
    }
  }

  /** @return true if the success ended an ejection */
  boolean connectSucceeded(long now) {
    if (failures == 0 && !ejecting) {
      return false; // nothing to learn: the common case takes no lock
    }
    synchronized (this) {
      boolean wasEjected = health.ejected(now);
      health.connectSucceeded(now);
      publish(now);
      return wasEjected;
    }
  }

  /** @return +1 if the check brought the upstream UP, -1 if it took it DOWN, 0 otherwise */
  int checked(long now, LastCheck check) {
    synchronized (this) {
      boolean wasUp = health.up();
      if (check.result().passed()) {
        health.checkPassed(now);
      } else {
        health.checkFailed(now);
      }
      lastCheck = check;
      publish(now);
      return wasUp == health.up() ? 0 : health.up() ? 1 : -1;
    }
  }

  /** @return false if it was draining already */
  boolean drain(long now) {
    synchronized (this) {
      boolean was = health.draining();
      health.drain();
      publish(now);
      return !was;
    }
  }

  /** @return false if it was ready already */
  boolean ready(long now) {
    synchronized (this) {
      boolean was = health.draining();
      health.ready();
      publish(now);
      return was;
    }
  }

  void options(PassiveHealthOptions passive, ActiveHealthOptions activeOptions, long now) {
    synchronized (this) {
      health.options(passive, activeOptions, now);
      publish(now);
    }
  }

  void opened() {
    active.incrementAndGet();
  }

  /** @return false if the count was already 0 (a close without an open: the caller's bug, not counted) */
  boolean closed() {
    for (;;) {
      int n = active.get();
      if (n == 0) {
        return false;
      }
      if (active.compareAndSet(n, n - 1)) {
        return true;
      }
    }
  }

  /** Under the lock. */
  private void publish(long now) {
    draining = health.draining();
    up = health.up();
    ejectedUntil = health.ejectedUntil();
    ejecting = health.ejected(now);
    failures = health.consecutiveFailures();
    ejections = health.ejections();
  }

  /** A connect failure's cause as {@code describe()} and the logs show it. */
  static String describe(Throwable failure) {
    if (failure == null) {
      return "unknown cause";
    }
    // A failed write shuts the output down (AUTO_CLOSE off): the socket's error is the shutdown's cause.
    Throwable cause = failure instanceof ChannelOutputShutdownException && failure.getCause() != null
      ? failure.getCause() : failure;
    String m = cause.getMessage();
    return m == null ? cause.getClass().getSimpleName() : cause.getClass().getSimpleName() + ": " + m;
  }

  /** The rank of the current ejection in its row (for the log line). */
  int ejectionLevel() {
    synchronized (this) {
      return health.level();
    }
  }
}
