package dev.ferry.upstream;

import dev.ferry.config.ByteEscapes;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;

import java.util.Arrays;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One active check of one upstream, and the handler of its channel.
 * <pre>
 *   CONNECTING ──connected──► SENDING ──written──► READING ──expect found──► finish(PASSED)
 *        │        (no send: straight on)   (no expect: finish(PASSED))
 *        └─ connect failed: CONNECT_FAILED · timer: TIMEOUT (UNEXPECTED_REPLY if bytes came) · peer closed:
 *           UNEXPECTED_REPLY · 16 KiB without expect: UNEXPECTED_REPLY · socket error: IO_ERROR · abort()
 * </pre>
 * The same discipline as the proxy's connections: {@link #finish} is the one place that ends a check. Guarded by
 * {@code finished}, it runs once: it cancels the timer (armed at start, whatever happens), reports, and closes the
 * channel (the only close this code issues). Every event after it is ignored; every {@link ByteBuf} that
 * arrives is copied out (up to {@value #READ_LIMIT} bytes) and released in the same call.
 * <p>
 * {@code expect} matches anywhere in the bytes received so far (HAProxy's {@code tcp-check expect string}), so a
 * banner or a prefix before it does no harm. A wrong answer is known for sure only when the upstream closes, when
 * {@value #READ_LIMIT} bytes came without a match, or at the timeout with bytes received: each is reported as
 * {@link CheckResult#UNEXPECTED_REPLY}, with the first bytes received in the detail.
 * <p>
 * Threading: every method runs on the checker's event loop.
 */
final class HealthProbe extends ChannelInboundHandlerAdapter {

  /** HAProxy's check buffer size: what we read at most while looking for {@code expect}. */
  static final int READ_LIMIT = 16 * 1024;
  private static final int SHOWN = 64;

  private enum Stage { CONNECTING, SENDING, READING }

  private final HealthChecker checker;
  private final Upstream upstream;
  private final byte[] send;
  private final byte[] expect;
  private final long timeoutNanos;
  private long startNanos;
  private Channel channel;
  private ScheduledFuture<?> timer;
  private Stage stage = Stage.CONNECTING;
  private boolean finished;
  private byte[] received;
  private int receivedLength;

  HealthProbe(HealthChecker checker, Upstream upstream, byte[] send, byte[] expect, long timeoutNanos) {
    this.checker = checker;
    this.upstream = upstream;
    this.send = send;
    this.expect = expect;
    this.timeoutNanos = timeoutNanos;
  }

  Upstream upstream() {
    return upstream;
  }

  /**
   * Connects. The bootstrap belongs to the checker's loop, so setting its handler just before {@code connect} is
   * safe: {@code connect} adds it to the new channel before returning.
   */
  void start(Bootstrap bootstrap, EventLoop loop) {
    startNanos = System.nanoTime();
    timer = loop.schedule(this::timedOut, timeoutNanos, TimeUnit.NANOSECONDS);
    ChannelFuture connect = bootstrap.handler(this).connect(upstream.socketAddress());
    channel = connect.channel();
    connect.addListener(this::connected);
  }

  private void connected(Future<? super Void> f) {
    if (finished) {
      return;
    }
    if (!f.isSuccess()) {
      Throwable cause = f.cause();
      finish(cause instanceof ConnectTimeoutException ? CheckResult.TIMEOUT : CheckResult.CONNECT_FAILED,
        "connect: " + Upstream.describe(cause));
      return;
    }
    if (send == null) {
      sent();
      return;
    }
    stage = Stage.SENDING;
    channel.writeAndFlush(channel.alloc().buffer(send.length).writeBytes(send)).addListener(w -> {
      if (finished) {
        return;
      }
      if (w.isSuccess()) {
        sent();
      } else {
        finish(CheckResult.IO_ERROR, "write: " + Upstream.describe(w.cause()));
      }
    });
  }

  private void sent() {
    if (expect == null) {
      finish(CheckResult.PASSED, send == null ? "connected" : "connected, sent " + send.length + " bytes");
      return;
    }
    stage = Stage.READING;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (finished || expect == null || !(msg instanceof ByteBuf)) {
        return;
      }
      ByteBuf buf = (ByteBuf) msg;
      int n = Math.min(buf.readableBytes(), READ_LIMIT - receivedLength);
      if (received == null || received.length < receivedLength + n) {
        int size = Math.min(READ_LIMIT, Math.max(256, Integer.highestOneBit(receivedLength + n) << 1));
        received = received == null ? new byte[size] : Arrays.copyOf(received, size);
      }
      buf.readBytes(received, receivedLength, n);
      int from = Math.max(0, receivedLength - expect.length + 1);
      receivedLength += n;
      if (indexOf(received, from, receivedLength, expect) >= 0) {
        finish(CheckResult.PASSED, "expected reply received");
      } else if (receivedLength >= READ_LIMIT) {
        finish(CheckResult.UNEXPECTED_REPLY, "no " + shown(expect) + " in the first " + READ_LIMIT + " bytes: "
          + got());
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    if (!finished) {
      finish(stage == Stage.READING ? CheckResult.UNEXPECTED_REPLY : CheckResult.IO_ERROR,
        "closed by the upstream while " + stage.name().toLowerCase(java.util.Locale.ROOT)
          + (receivedLength > 0 ? ": " + got() : ""));
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (!finished) {
      finish(CheckResult.IO_ERROR, stage.name().toLowerCase(java.util.Locale.ROOT) + ": " + Upstream.describe(cause));
    }
  }

  private void timedOut() {
    if (finished) {
      return;
    }
    long ms = timeoutNanos / 1_000_000;
    switch (stage) {
      case CONNECTING -> finish(CheckResult.TIMEOUT, "not connected within " + ms + " ms");
      case SENDING -> finish(CheckResult.TIMEOUT, "send not written within " + ms + " ms");
      default -> finish(receivedLength > 0 ? CheckResult.UNEXPECTED_REPLY : CheckResult.TIMEOUT,
        "no " + shown(expect) + " within " + ms + " ms" + (receivedLength > 0 ? ": " + got() : ""));
    }
  }

  /** The checker is closing: end the check without a result. */
  void abort() {
    finish(null, "aborted");
  }

  /** The one end of a check: runs once; cancels the timer, closes the channel, reports (unless aborted). */
  private void finish(CheckResult result, String detail) {
    if (finished) {
      return;
    }
    finished = true;
    timer.cancel(false);
    received = null;
    long ms = (System.nanoTime() - startNanos) / 1_000_000;
    // Counted and reported before the close: whoever sees every channel closed sees every check finished too.
    checker.finished(this, result, detail + " (" + ms + " ms)");
    if (channel.isRegistered()) {
      channel.close().addListener(f -> checker.channelClosed());
    } else {
      channel.unsafe().closeForcibly();
      checker.channelClosed();
    }
  }

  private String got() {
    return "got " + receivedLength + " bytes \"" + ByteEscapes.encode(received, 0, receivedLength, SHOWN) + "\"";
  }

  private static String shown(byte[] bytes) {
    return "\"" + ByteEscapes.encode(bytes, 0, bytes.length, SHOWN) + "\"";
  }

  static int indexOf(byte[] hay, int from, int to, byte[] needle) {
    outer:
    for (int i = from; i <= to - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
