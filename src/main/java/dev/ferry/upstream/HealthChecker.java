package dev.ferry.upstream;

import dev.ferry.config.ActiveHealthOptions;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Active health checks of one pool: every {@code interval}, one {@link HealthProbe} per upstream that has none in
 * flight (a TCP connect, optional {@code send}, optional {@code expect}, all within {@code timeout}), whose result
 * goes to the pool. Opt-in: while the pool's {@code health.active.enabled} is false a round checks nothing. Each
 * round reads the pool's current upstreams and options, so a reload takes effect at the next round: new upstreams
 * are checked, removed ones no longer; a check still in flight for a removed upstream finishes without harm.
 * <p>
 * Checks run on plain Netty channels of the given event loop (one of Vert.x's, so they add no thread), made from
 * the caller's {@link Bootstrap} template: its channel factory (epoll or NIO, as the proxy's) and its resolver (a
 * host name is resolved at each check, like each proxied connect). Every round starts all its checks at once;
 * with at most 64 upstreams per pool there is no burst worth HAProxy's {@code spread-checks}.
 * <p>
 * Threading: all state is confined to the event loop; {@link #start} and {@link #close} may be called from any
 * thread. The probes hold no pooled buffer beyond one {@code channelRead} call: what they receive is copied to a
 * small heap array and released at once, and no client buffer is ever involved.
 */
public final class HealthChecker {

  private static final Logger log = LoggerFactory.getLogger(HealthChecker.class);

  private final UpstreamPool pool;
  private final EventLoop loop;
  private final Bootstrap bootstrap;
  /** The probe in flight per upstream (identity: a removed and re-added upstream is a new one). */
  private final Map<Upstream, HealthProbe> inFlight = new IdentityHashMap<>();
  private ScheduledFuture<?> nextRound;
  private boolean started;
  private boolean closed;
  private CompletableFuture<Void> closing;
  // Written on the loop only; volatile so that tests may poll them from their own thread.
  private volatile long rounds;
  private volatile long probes;
  private volatile long finished;
  private volatile int openChannels;

  /**
   * @param pool     the pool to check and to report to
   * @param loop     the event loop every check runs on
   * @param template a bootstrap with a channel factory and, for host names, a resolver; it is cloned onto
   *                 {@code loop} and not modified
   */
  public HealthChecker(UpstreamPool pool, EventLoop loop, Bootstrap template) {
    this.pool = pool;
    this.loop = loop;
    this.bootstrap = template.clone(loop)
      .option(ChannelOption.AUTO_READ, true)
      .option(ChannelOption.TCP_NODELAY, true);
  }

  /** Starts the first round at once, then one every {@code interval}. Idempotent. */
  public void start() {
    loop.execute(() -> {
      if (!started && !closed) {
        started = true;
        ActiveHealthOptions a = pool.options().active();
        log.info("conn=- route {}: active health checks {} (interval {} ms, timeout {} ms, rise {}, fall {})",
          pool.route(), a.enabled() ? "on" : "off until enabled", a.interval().toMillis(), a.timeout().toMillis(),
          a.rise(), a.fall());
        round();
      }
    });
  }

  private void round() {
    nextRound = null;
    if (closed) {
      return;
    }
    rounds++;
    ActiveHealthOptions a = pool.options().active();
    if (a.enabled()) {
      long timeoutNanos = a.timeout().toNanos();
      bootstrap.option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, a.timeout().toMillis()));
      byte[] send = a.sendBytes();
      byte[] expect = a.expectBytes();
      for (Upstream u : pool.upstreams()) {
        if (!inFlight.containsKey(u)) {
          HealthProbe probe = new HealthProbe(this, u, send, expect, timeoutNanos);
          inFlight.put(u, probe);
          probes++;
          openChannels++;
          probe.start(bootstrap, loop);
        }
      }
    }
    nextRound = loop.schedule(this::round, a.interval().toNanos(), TimeUnit.NANOSECONDS);
  }

  // ---- called by the probes, on the loop ----------------------------------------------------------------------

  /** A probe finished; {@code result} is null when the check was aborted by {@link #close} (not reported). */
  void finished(HealthProbe probe, CheckResult result, String detail) {
    finished++;
    inFlight.remove(probe.upstream(), probe);
    if (result != null) {
      pool.checked(probe.upstream(), result, detail);
    }
  }

  /** A probe's channel is closed (its close future completed). */
  void channelClosed() {
    openChannels--;
    if (closing != null && openChannels == 0) {
      closing.complete(null);
    }
  }

  // ---- shutdown -----------------------------------------------------------------------------------------------

  /**
   * Stops: cancels the next round, aborts the checks in flight (closing their channels, reporting nothing).
   *
   * @return completes once every check channel is closed
   */
  public CompletableFuture<Void> close() {
    CompletableFuture<Void> done = new CompletableFuture<>();
    try {
      loop.execute(() -> {
        if (closing != null) {
          closing.whenComplete((v, e) -> done.complete(null));
          return;
        }
        closed = true;
        closing = done;
        if (nextRound != null) {
          nextRound.cancel(false);
          nextRound = null;
        }
        for (HealthProbe p : new ArrayList<>(inFlight.values())) {
          p.abort();
        }
        if (openChannels == 0) {
          done.complete(null);
        }
      });
    } catch (RejectedExecutionException e) {
      done.completeExceptionally(e);
    }
    return done;
  }

  // ---- for tests (read on the loop, or after close completed) ---------------------------------------------------

  long rounds() {
    return rounds;
  }

  long probes() {
    return probes;
  }

  long finishedProbes() {
    return finished;
  }

  int openChannels() {
    return openChannels;
  }

  boolean roundScheduled() {
    return nextRound != null;
  }
}
