package dev.ferry.metrics;

import dev.ferry.vocabulary.LeakKind;

import io.netty.buffer.ByteBufUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Routes Netty's pooled-buffer leak reports into {@code ferry_leaks_detected_total{kind="buffer"}} of every
 * running Ferry instance. Netty's listener is process-wide, hence the static list; Netty still logs the report
 * with its access records.
 */
public final class NettyLeakHook {

  private static final Logger log = LoggerFactory.getLogger(NettyLeakHook.class);
  private static final List<FerryMetrics> TARGETS = new CopyOnWriteArrayList<>();
  private static final AtomicLong REPORTED = new AtomicLong();
  private static volatile boolean installed;

  private NettyLeakHook() {
  }

  /** Installs Netty's leak listener, once per process. */
  public static synchronized void install() {
    if (!installed) {
      ByteBufUtil.setLeakListener(NettyLeakHook::onLeak);
      installed = true;
    }
  }

  /** Starts counting leaks into {@code metrics}. */
  public static void attach(FerryMetrics metrics) {
    install();
    TARGETS.add(metrics);
  }

  public static void detach(FerryMetrics metrics) {
    TARGETS.remove(metrics);
  }

  /** Leak reports seen by this process since start, whichever Ferry instance was running. */
  public static long reported() {
    return REPORTED.get();
  }

  private static void onLeak(String resourceType, String records) {
    REPORTED.incrementAndGet();
    log.error("conn=- pooled buffer leak reported by Netty: {}", resourceType);
    for (FerryMetrics m : TARGETS) {
      m.leakDetected(LeakKind.BUFFER);
    }
  }
}
