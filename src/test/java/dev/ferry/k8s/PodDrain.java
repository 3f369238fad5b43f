package dev.ferry.k8s;

import dev.ferry.support.Peer;
import io.fabric8.kubernetes.api.model.PodSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The pod's end as kubelet plays it, on podman: the preStop hook, then SIGTERM with what is left of
 * terminationGracePeriodSeconds. podman 4.3 runs neither the hook nor that timeout by itself (k8s/image/README.md), so
 * the test runs the hook's command in the container and passes the remaining seconds to {@code podman stop}.
 * A transfer is in flight throughout: half of it has arrived, the backend holds the rest until Ferry is draining.
 */
final class PodDrain {

  private static final Logger log = LoggerFactory.getLogger(PodDrain.class);
  private static final byte[] STREAMED = Peer.randomBytes(2 * PodmanPodTest.STREAM_HALF, 1414);

  private PodDrain() {
  }

  /** What a backend streams in mode {@code 'S'}. */
  static byte[] streamed() {
    return STREAMED;
  }

  static void run(PodmanPodTest test, PlayedPod pod) throws Exception {
    PodSpec spec = pod.manifest.original.getSpec().getTemplate().getSpec();
    long grace = spec.getTerminationGracePeriodSeconds();
    List<String> preStop = spec.getContainers().get(0).getLifecycle().getPreStop().getExec().getCommand();
    int half = PodmanPodTest.STREAM_HALF;
    Path stopOutput = Files.createTempFile("ferry-pod-stop", ".out");
    Process stop = null;
    try (Peer client = Peer.connect(test.proxyPort())) {
      client.write(new byte[] {'S'});
      byte[] first = client.readExactly(half);
      assertThat(Arrays.equals(first, 0, half, STREAMED, 0, half)).as("first half, byte for byte").isTrue();

      long t0 = System.nanoTime();
      Tools.Result hook = pod.exec(preStop, Duration.ofSeconds(grace));
      assertThat(hook.exit()).as("preStop %s in the container: %s", preStop, hook.output()).isZero();
      assertThat(test.get("/health/ready").statusCode()).as("ready until SIGTERM").isEqualTo(200);
      long remaining = grace - TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - t0);
      // The container, not the pod: `podman pod stop` stops the infra container at the same time, and with it the
      // published ports (observed: the admin port refused connections during the drain). kubelet, likewise, stops
      // the app containers first and the sandbox after.
      stop = Podman.start(stopOutput, "stop", "--time", String.valueOf(remaining), pod.container());

      pod.awaitLogLine("Ferry's drain start", Duration.ofSeconds(20), l -> l.contains("conn=- shutting down: draining"));
      assertThat(test.get("/health/ready").statusCode()).as("readiness while draining").isEqualTo(503);
      test.releaseStream().countDown();
      Peer.Digest rest = client.readToEnd(Duration.ZERO);
      assertThat(rest).as("second half, after SIGTERM")
        .isEqualTo(Peer.Digest.of(Arrays.copyOfRange(STREAMED, half, 2 * half)));
      // The backend's FIN arrived with the last byte; the client ends its side in turn, as an in-order client does.
      // With half-close, Ferry relays the client's direction until then: without this FIN the connection would
      // stay open until the drain timeout closed it ("forced 1").
      client.finish();

      assertThat(stop.waitFor(grace + 20, TimeUnit.SECONDS)).as("podman stop returned").isTrue();
      long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
      assertThat(stop.exitValue()).as("podman stop: %s", Files.readString(stopOutput)).isZero();
      log.info("conn=- pod stopped {} ms after the preStop hook began (grace {} s)", elapsedMs, grace);
      assertThat(pod.inspect("{{.State.Status}}")).isEqualTo("exited");
      assertThat(pod.inspect("{{.State.ExitCode}}")).as("exit code (SIGKILL would be 137)").isEqualTo("0");
      assertThat(elapsedMs).as("preStop to exit, ms").isLessThan(TimeUnit.SECONDS.toMillis(grace));
      String logs = pod.logs();
      assertThat(logs).contains("conn=- received SIGTERM").contains("conn=- Ferry stopped: drained 1, forced 0;");
    } finally {
      test.releaseStream().countDown();
      if (stop != null && stop.isAlive()) {
        stop.destroyForcibly();
      }
      Files.deleteIfExists(stopOutput);
    }
  }
}
