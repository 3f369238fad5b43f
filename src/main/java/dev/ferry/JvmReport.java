package dev.ferry;

import com.sun.management.HotSpotDiagnosticMXBean;
import io.netty.util.internal.PlatformDependent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Locale;

/**
 * The JVM settings in effect, as the running JVM reports them: collector, heap, direct-memory cap, CPUs and the flags
 * it was given (from {@code JAVA_TOOL_OPTIONS}, {@code JDK_JAVA_OPTIONS} and the command line, which bin/ferry
 * builds). Logged once at start, so that a log shows which Ferry ran, whichever way it was started.
 */
final class JvmReport {

  private static final Logger log = LoggerFactory.getLogger(JvmReport.class);
  private static final long MIB = 1024 * 1024;

  /** What the report says, gathered apart from its wording so that the wording can be tested on any JVM. */
  record Facts(String vm, List<String> collectors, long heapInitial, long heapMax, long directMax, int cpus,
               List<String> flags) {
  }

  private JvmReport() {
  }

  /** Logs the running JVM's settings, one line. */
  static void log() {
    log.info("conn=- {}", describe(current()));
  }

  /** The running JVM's facts. */
  static Facts current() {
    List<String> collectors = ManagementFactory.getGarbageCollectorMXBeans().stream()
      .map(GarbageCollectorMXBean::getName).toList();
    String vm = System.getProperty("java.vm.name", "?") + " " + System.getProperty("java.runtime.version",
      System.getProperty("java.version", "?"));
    return new Facts(vm, collectors,
      hotspotBytes("InitialHeapSize", ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getInit()),
      hotspotBytes("MaxHeapSize", Runtime.getRuntime().maxMemory()),
      PlatformDependent.maxDirectMemory(), Runtime.getRuntime().availableProcessors(),
      ManagementFactory.getRuntimeMXBean().getInputArguments());
  }

  /**
   * A size flag's value as HotSpot settled it (the flag given, or what its ergonomics chose). {@code fallback} where
   * the diagnostic bean is missing: Runtime.maxMemory() undercounts the heap by one survivor space under Serial and
   * Parallel, so the flag is preferred.
   */
  private static long hotspotBytes(String flag, long fallback) {
    try {
      HotSpotDiagnosticMXBean hotspot = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
      return hotspot == null ? fallback : Long.parseLong(hotspot.getVMOption(flag).getValue());
    } catch (RuntimeException | LinkageError e) {
      return fallback;
    }
  }

  /** The line, e.g. {@code JVM: OpenJDK ..., collector Serial (Copy, MarkSweepCompact), heap initial 256 MiB, ...}. */
  static String describe(Facts f) {
    return "JVM: " + f.vm() + ", collector " + collector(f.collectors())
      + ", heap initial " + mib(f.heapInitial()) + ", max " + mib(f.heapMax())
      + ", direct memory max " + mib(f.directMax()) + ", " + f.cpus() + (f.cpus() == 1 ? " CPU" : " CPUs")
      + "; flags from JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and the command line: "
      + (f.flags().isEmpty() ? "none" : String.join(" ", f.flags()));
  }

  /** The collector's family from its memory managers' names, e.g. {@code Serial (Copy, MarkSweepCompact)}. */
  static String collector(List<String> beans) {
    if (beans.isEmpty()) {
      return "unknown (no collector beans: Epsilon?)";
    }
    String first = beans.get(0);
    String family;
    if (beans.contains("Copy") || beans.contains("MarkSweepCompact")) {
      family = "Serial";
    } else if (first.startsWith("G1 ")) {
      family = "G1";
    } else if (first.startsWith("PS ")) {
      family = "Parallel";
    } else if (first.startsWith("ZGC")) {
      family = "Z";
    } else if (first.startsWith("Shenandoah")) {
      family = "Shenandoah";
    } else {
      family = "unknown";
    }
    return family + " (" + String.join(", ", beans) + ")";
  }

  /** Bytes in MiB: whole when exact, else one decimal; a negative or zero size as it is (no limit known). */
  static String mib(long bytes) {
    if (bytes <= 0) {
      return bytes + " bytes (no limit known)";
    }
    if (bytes % MIB == 0) {
      return bytes / MIB + " MiB";
    }
    return String.format(Locale.ROOT, "%.1f MiB", bytes / (double) MIB);
  }
}
