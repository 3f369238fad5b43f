package dev.ferry.k8s;

import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * podman as the image tests run it: always with the project's {@code k8s/image/containers.conf} (runc, cgroupfs, no
 * default ulimits: what this machine's kernel and sandbox accept), every command bounded by a timeout.
 *
 * <p>Availability: a machine without podman, debootstrap or root skips the tests with a loud message; in CI
 * ({@code CI=true}, where .ci/run installs them) that is a failure instead, unless {@code FERRY_PODMAN=skip} says the
 * CI machine cannot run containers at all. Nothing here ever passes without having run a container.
 */
final class Podman {

  private static final Logger log = LoggerFactory.getLogger(Podman.class);

  static final Path CONF = Path.of("k8s/image/containers.conf").toAbsolutePath();
  static final Path BUILD_BASE = Path.of("k8s/image/build-base.sh").toAbsolutePath();

  private Podman() {
  }

  /** Skips (developer machine) or fails (CI) unless podman, debootstrap and root are here. */
  static void requireUsable() {
    if ("skip".equals(System.getenv("FERRY_PODMAN"))) {
      unavailable("FERRY_PODMAN=skip: this machine was declared unable to run containers", false);
    }
    for (String tool : List.of("podman", "debootstrap")) {
      if (onPath(tool) == null) {
        unavailable(tool + " not found: apt-get install podman runc slirp4netns catatonit debootstrap "
          + "(.ci/run does)", true);
      }
    }
    Tools.Result id = Tools.run(List.of("id", "-u"), null, Duration.ofSeconds(10));
    if (!id.output().strip().equals("0")) {
      unavailable("the image tests need root (debootstrap, rootful podman); uid is " + id.output().strip(), true);
    }
    Tools.Result info = run(Duration.ofSeconds(60), "info", "--format", "{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}");
    if (info.exit() != 0) {
      unavailable("podman info failed, containers cannot run here:\n" + info.output(), true);
    }
    log.info("conn=- podman: {} (CONTAINERS_CONF={})", info.output().strip(), CONF);
  }

  /**
   * Skips, loudly, or fails under CI. {@code failInCi}: the cause is a missing install step (.ci/run's job), not
   * a machine that cannot run containers.
   */
  static void unavailable(String why, boolean failInCi) {
    String message = "!!! podman image/pod tests NOT RUN: " + why;
    if (failInCi && "true".equalsIgnoreCase(System.getenv("CI"))) {
      throw new AssertionError(message + " (CI=true: .ci/run must make podman usable, or set FERRY_PODMAN=skip)");
    }
    log.warn("conn=- {}", message);
    System.err.println(message);
    Assumptions.abort(message);
  }

  /** The image of one flavour ({@code jre} or {@code build}) from k8s/image/build-base.sh; cached by its inputs. */
  static String baseImage(String flavour) {
    Tools.Result r = exec(List.of("bash", BUILD_BASE.toString(), flavour), Duration.ofMinutes(12));
    if (r.exit() != 0) {
      throw new AssertionError("k8s/image/build-base.sh " + flavour + " failed:\n" + r.output());
    }
    String[] lines = r.output().strip().split("\n");
    return lines[lines.length - 1].strip();
  }

  /** Runs {@code true} in a throw-away container of {@code image}: skips (or fails in CI) if that cannot work here. */
  static void requireContainersRun(String image) {
    Tools.Result r = run(Duration.ofMinutes(2), "run", "--rm", "--network", "none", image, "true");
    if (r.exit() != 0) {
      unavailable("a container of " + image + " does not run here:\n" + r.output(), true);
    }
  }

  /** {@code podman args...}, expected to succeed; returns its output. */
  static String ok(Duration timeout, String... args) {
    Tools.Result r = run(timeout, args);
    if (r.exit() != 0) {
      throw new AssertionError("podman " + String.join(" ", args) + " exited " + r.exit() + ":\n" + r.output());
    }
    return r.output();
  }

  static Tools.Result run(Duration timeout, String... args) {
    List<String> command = new ArrayList<>();
    command.add("podman");
    command.addAll(List.of(args));
    return exec(command, timeout);
  }

  /** Starts {@code podman args...} without waiting (output to {@code out}); the caller bounds and reaps it. */
  static Process start(Path out, String... args) {
    List<String> command = new ArrayList<>();
    command.add("podman");
    command.addAll(List.of(args));
    try {
      return builder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Like {@link Tools#run} with CONTAINERS_CONF set; stdout and stderr merged. */
  static Tools.Result exec(List<String> command, Duration timeout) {
    return Tools.run(builder(command), null, timeout);
  }

  private static ProcessBuilder builder(List<String> command) {
    ProcessBuilder pb = new ProcessBuilder(command);
    pb.environment().put("CONTAINERS_CONF", CONF.toString());
    return pb;
  }

  static Path onPath(String tool) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      Path p = Path.of(dir, tool);
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }
}
