package dev.ferry.soak;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The short chaos soak, part of {@code mvn -B verify}: about 35 s of mixed, faulty traffic through a real Ferry
 * process (a child JVM at paranoid leak detection), then every lifecycle promise checked. The seed is random per run
 * and logged; replay one with {@code -Dferry.soak.seed=N}. {@code -Dferry.soak.duration=60s} and
 * {@code -Dferry.soak.concurrency=N} change the length and the load.
 */
class ChaosSoakTest {

  private static final Logger log = LoggerFactory.getLogger(ChaosSoakTest.class);

  /** Kept when the soak fails: it holds Ferry's full stdout (access log) and stderr. */
  @TempDir(cleanup = CleanupMode.ON_SUCCESS)
  Path work;

  @Test
  @Timeout(value = 240, unit = TimeUnit.SECONDS)
  void everyConnectionIsReleasedOnceUnderChaos() throws Exception {
    String seed = System.getProperty("ferry.soak.seed");
    SoakDriver.Options options = new SoakDriver.Options()
      .duration(SoakDriver.parseDuration(System.getProperty("ferry.soak.duration", "35s")))
      .concurrency(Integer.getInteger("ferry.soak.concurrency", 24))
      .ferryClasspath(System.getProperty("surefire.test.class.path", System.getProperty("java.class.path")))
      .workDir(work);
    if (seed != null && !seed.isBlank()) {
      options.seed(Long.parseLong(seed.trim()));
    }
    SoakDriver.Result r = new SoakDriver(options).run();
    log.info("conn=- chaos soak seed {}: {} connections, {} faults injected, {} hashes checked in {} s",
      r.seed(), r.connections(), r.faultsInjected(), r.hashesChecked(), r.totalDuration().toSeconds());

    assertThat(r.failures()).as("chaos soak failures (seed %d, replay with -Dferry.soak.seed=%d):%n%s", r.seed(),
      r.seed(), r.summary()).isEmpty();
    assertThat(r.hashesChecked()).as("well-behaved streams hash-checked").isPositive();
    assertThat(r.hashesMatched()).as("well-behaved streams whose hash matched").isEqualTo(r.hashesChecked());
    assertThat(r.leaks()).as("ferry_leaks_detected_total").isZero();
    assertThat(r.doubleFreesDetected()).as("ferry_double_free_detected_total").isZero();
    assertThat(r.connections()).as("connections").isPositive();
    assertThat(r.faultsInjected()).as("faults injected").isPositive();
    assertThat(r.trafficDuration()).as("traffic duration").isGreaterThan(Duration.ofSeconds(1));
  }
}
