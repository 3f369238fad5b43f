package dev.ferry.proxy;

import dev.ferry.metrics.FerryMetrics;
import dev.ferry.metrics.LogThrottle;
import dev.ferry.vocabulary.AcceptErrorCause;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * The listening channel's own handler (the {@code ServerBootstrap}'s parent handler): a failed accept, above all
 * EMFILE when the process is out of descriptors, is counted in {@code ferry_accept_errors_total{cause}}, logged at
 * most once per 10 s per cause with the count ({@link LogThrottle}), and pauses accepting for {@value #PAUSE_MS} ms.
 * <p>
 * Why here: Netty fires an accept failure into the listening channel's pipeline once per read burst
 * ({@code AbstractEpollServerChannel.epollInReady}). Its {@code ServerBootstrapAcceptor}, after this handler, pauses
 * {@code autoRead} for 1 s and passes the exception on to the pipeline's tail, which logged
 * "exceptionCaught() reached the tail of the pipeline" with a stack trace: about 30 of them for 600 clients under
 * {@code ulimit -n 256}. This handler consumes the exception instead, so it pauses accepting itself: without a pause,
 * a backlog the process cannot take would be retried in a busy loop (netty #1328). {@value #PAUSE_MS} ms rather than
 * Netty's 1 s: the descriptors that run out are mostly those of clients refused with LIMIT, released within
 * milliseconds, and clients waiting in the backlog should hear that sooner.
 * <p>
 * Threading: one instance per listening channel, on its event loop; the meters and the throttle are thread-safe and
 * shared by every listener.
 */
final class AcceptErrors extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(AcceptErrors.class);

  static final long PAUSE_MS = 100;

  private final String route;
  private final FerryMetrics metrics;
  private final LogThrottle<AcceptErrorCause> throttle;

  AcceptErrors(String route, FerryMetrics metrics, LogThrottle<AcceptErrorCause> throttle) {
    this.route = route;
    this.metrics = metrics;
    this.throttle = throttle;
  }

  /** A throttle for every listener of one Ferry: one line per 10 s per cause, whichever listener failed. */
  static LogThrottle<AcceptErrorCause> throttle() {
    return new LogThrottle<>(AcceptErrorCause.class, Duration.ofSeconds(10));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    AcceptErrorCause kind = classify(cause);
    metrics.acceptError(kind);
    long n = throttle.event(kind);
    if (n > 0) {
      // No descriptor count here: reading /proc/self/fd needs a descriptor too (InternalError when out of them).
      log.warn("conn=- route {}: accept failed: {} ({} accept failures for {} since the last such line); accepting "
        + "paused for {} ms each time", route, cause.getMessage(), n, kind.label(), PAUSE_MS);
    }
    ChannelConfig config = ctx.channel().config();
    if (config.isAutoRead()) {
      config.setAutoRead(false);
      ctx.executor().schedule(() -> config.setAutoRead(true), PAUSE_MS, TimeUnit.MILLISECONDS);
    }
  }

  static AcceptErrorCause classify(Throwable cause) {
    return DescriptorBudget.outOfDescriptors(cause) ? AcceptErrorCause.TOO_MANY_OPEN_FILES : AcceptErrorCause.OTHER;
  }
}
