package dev.ferry;

import org.junit.jupiter.api.Test;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The start-up line that says which JVM settings are in effect: its wording, and its facts on a real JVM. */
class JvmReportTest {

  private static final long MIB = 1024 * 1024;

  @Test
  void namesTheCollectorFamilyFromItsMemoryManagers() {
    assertThat(JvmReport.collector(List.of("Copy", "MarkSweepCompact"))).isEqualTo("Serial (Copy, MarkSweepCompact)");
    assertThat(JvmReport.collector(List.of("G1 Young Generation", "G1 Old Generation")))
      .isEqualTo("G1 (G1 Young Generation, G1 Old Generation)");
    assertThat(JvmReport.collector(List.of("G1 Young Generation", "G1 Concurrent GC", "G1 Old Generation")))
      .startsWith("G1 (");
    assertThat(JvmReport.collector(List.of("PS Scavenge", "PS MarkSweep")))
      .isEqualTo("Parallel (PS Scavenge, PS MarkSweep)");
    assertThat(JvmReport.collector(List.of("ZGC Cycles", "ZGC Pauses"))).startsWith("Z (");
    assertThat(JvmReport.collector(List.of("ZGC Minor Cycles", "ZGC Major Cycles"))).startsWith("Z (");
    assertThat(JvmReport.collector(List.of("Shenandoah Pauses", "Shenandoah Cycles"))).startsWith("Shenandoah (");
    assertThat(JvmReport.collector(List.of())).startsWith("unknown");
    assertThat(JvmReport.collector(List.of("Something New"))).isEqualTo("unknown (Something New)");
  }

  @Test
  void writesSizesInMebibytes() {
    assertThat(JvmReport.mib(256 * MIB)).isEqualTo("256 MiB");
    assertThat(JvmReport.mib(259_522_560)).isEqualTo("247.5 MiB");
    assertThat(JvmReport.mib(0)).isEqualTo("0 bytes (no limit known)");
  }

  @Test
  void describesTheSettingsOnOneLine() {
    JvmReport.Facts facts = new JvmReport.Facts("OpenJDK 64-Bit Server VM 17.0.15", List.of("Copy", "MarkSweepCompact"),
      256 * MIB, 256 * MIB, 128 * MIB, 2, List.of("-XX:+UseSerialGC", "-Xms256m", "-Xmx256m"));
    assertThat(JvmReport.describe(facts)).isEqualTo("JVM: OpenJDK 64-Bit Server VM 17.0.15, collector Serial (Copy, "
      + "MarkSweepCompact), heap initial 256 MiB, max 256 MiB, direct memory max 128 MiB, 2 CPUs; flags from "
      + "JAVA_TOOL_OPTIONS, JDK_JAVA_OPTIONS and the command line: -XX:+UseSerialGC -Xms256m -Xmx256m");
    JvmReport.Facts bare = new JvmReport.Facts("VM", List.of(), MIB, 2 * MIB, 3 * MIB, 1, List.of());
    assertThat(JvmReport.describe(bare)).contains(", 1 CPU;").endsWith("command line: none");
  }

  /** This test JVM runs with pom.xml's surefire argLine: -Xmx1g -XX:MaxDirectMemorySize=512m. */
  @Test
  void readsTheRunningJvm() {
    JvmReport.Facts facts = JvmReport.current();
    assertThat(facts.flags()).as("input arguments (surefire's argLine)")
      .contains("-Xmx1g", "-XX:MaxDirectMemorySize=512m");
    assertThat(facts.heapMax()).as("MaxHeapSize, exact (Runtime.maxMemory() is one survivor space less)")
      .isEqualTo(1024 * MIB);
    assertThat(facts.directMax()).as("Netty's direct-memory limit").isEqualTo(512 * MIB);
    assertThat(facts.heapInitial()).isPositive().isLessThanOrEqualTo(facts.heapMax());
    assertThat(facts.cpus()).isEqualTo(Runtime.getRuntime().availableProcessors());
    List<String> beans = ManagementFactory.getGarbageCollectorMXBeans().stream()
      .map(GarbageCollectorMXBean::getName).toList();
    assertThat(facts.collectors()).isEqualTo(beans);
    assertThat(JvmReport.describe(facts)).startsWith("JVM: " + System.getProperty("java.vm.name"))
      .doesNotContain("collector unknown").contains("heap initial ")
      .contains(", max 1024 MiB, direct memory max 512 MiB");
  }
}
