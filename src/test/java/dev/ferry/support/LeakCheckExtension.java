package dev.ferry.support;

import dev.ferry.metrics.NettyLeakHook;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Registered for every test class (service file + autodetection): runs at paranoid leak detection, and after the
 * class forces garbage collection and fresh allocations so Netty reports any unreleased pooled buffer, then fails
 * the class if a report arrived. Reports reach {@link NettyLeakHook} through Netty's leak listener.
 */
public final class LeakCheckExtension implements BeforeAllCallback, AfterAllCallback {

  private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LeakCheckExtension.class);

  @Override
  public void beforeAll(ExtensionContext context) {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    NettyLeakHook.install();
    collect();
    context.getStore(NS).put("before", NettyLeakHook.reported());
  }

  @Override
  public void afterAll(ExtensionContext context) {
    collect();
    long before = context.getStore(NS).get("before", Long.class);
    long after = NettyLeakHook.reported();
    ExpectedLeaks expected = context.getRequiredTestClass().getAnnotation(ExpectedLeaks.class);
    long allowed = expected == null ? 0 : expected.value();
    if (after - before != allowed) {
      throw new AssertionError((after - before) + " pooled-buffer leak(s) reported by Netty during "
        + context.getDisplayName() + ", expected " + allowed + " (see the LEAK: lines in the log)");
    }
  }

  /** Lets the collector find unreachable buffers and makes the detector poll its queue (it does so on allocation). */
  public static void collect() {
    for (int i = 0; i < 6; i++) {
      System.gc();
      for (int j = 0; j < 64; j++) {
        ByteBuf b = ByteBufAllocator.DEFAULT.directBuffer(16);
        b.release();
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }
}
