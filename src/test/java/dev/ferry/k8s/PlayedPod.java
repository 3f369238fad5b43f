package dev.ferry.k8s;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.function.Predicate;

/**
 * One pod that {@code podman kube play} started from a {@link PodManifest}, and everything it made: the pod (with its
 * infra container and anonymous volumes) and the ConfigMap's named volume. {@link #close} removes all of it and is
 * safe to call more than once, from a shutdown hook as well.
 */
final class PlayedPod implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(PlayedPod.class);
  private static final Duration PODMAN = Duration.ofSeconds(60);
  private static final DateTimeFormatter KUBELET_DIR = DateTimeFormatter.ofPattern("'..'yyyy_MM_dd_HH_mm_ss.SSSSSSSSS");

  final PodManifest manifest;
  private final Path yaml;
  private volatile boolean closed;

  private PlayedPod(PodManifest manifest, Path yaml) {
    this.manifest = manifest;
    this.yaml = yaml;
  }

  /**
   * Plays the manifest on a slirp4netns network with host loopback reachable as 10.0.2.2 (so the ConfigMap's
   * upstream can be a backend the test runs on 127.0.0.1). The returned pod is removed by {@link #close} even if
   * the play itself failed half-way.
   */
  static PlayedPod play(PodManifest manifest) {
    Path yaml;
    try {
      yaml = Files.createTempFile("ferry-podtest", ".yaml");
      Files.writeString(yaml, manifest.yaml());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    PlayedPod pod = new PlayedPod(manifest, yaml);
    Runtime.getRuntime().addShutdownHook(new Thread(pod::close, "podman-cleanup"));
    Tools.Result r = Podman.run(Duration.ofMinutes(2), "kube", "play",
      "--network", "slirp4netns:allow_host_loopback=true", yaml.toString());
    if (r.exit() != 0) {
      pod.close();
      throw new AssertionError("podman kube play exited " + r.exit() + ":\n" + r.output() + "\nmanifest:\n"
        + manifest.yaml());
    }
    log.info("conn=- podman kube play: pod {} ({})", manifest.podName(), r.output().strip().replace('\n', ' '));
    return pod;
  }

  String container() {
    return manifest.containerName();
  }

  /** The container's output so far (stdout: access log; stderr: diagnostics and the JVM's own lines). */
  String logs() {
    return Podman.ok(PODMAN, "logs", container());
  }

  /** Polls the container's log (every 250 ms, bounded) until a line satisfies {@code line}; returns that line. */
  String awaitLogLine(String what, Duration timeout, Predicate<String> line) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      String logs = logs();
      for (String l : logs.split("\n")) {
        if (line.test(l)) {
          return l;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout.toMillis() + " ms waiting for the log line: " + what
          + "\nlog of " + container() + ":\n" + logs);
      }
      sleep(Duration.ofMillis(250));
    }
  }

  /** {@code podman inspect --format} on the Ferry container. */
  String inspect(String format) {
    return Podman.ok(PODMAN, "inspect", "--format", format, container()).strip();
  }

  /** Runs a command in the container as its user (uid 10001), the way kubelet runs an exec hook or probe. */
  Tools.Result exec(List<String> command, Duration timeout) {
    String[] args = new String[command.size() + 2];
    args[0] = "exec";
    args[1] = container();
    for (int i = 0; i < command.size(); i++) {
      args[i + 2] = command.get(i);
    }
    return Podman.run(timeout, args);
  }

  /** The Ferry process as the host sees it: {@code /proc/<pid>} of the container's main process. */
  Path hostProc() {
    String pid = inspect("{{.State.Pid}}");
    if (pid.isEmpty() || pid.equals("0")) {
      throw new AssertionError("container " + container() + " has no running process: " + inspect("{{.State.Status}}"));
    }
    return Path.of("/proc", pid);
  }

  /**
   * Replaces the ConfigMap's file the way kubelet's atomic writer does: the new data in a fresh timestamped
   * directory, a {@code ..data} symlink swapped to it by rename, {@code <key>} a symlink to {@code ..data/<key>}.
   * podman never updates a ConfigMap volume after the play, so the test does what kubelet would on the node.
   */
  void updateConfigMap(String key, String content) throws IOException {
    Path dir = Path.of(Podman.ok(PODMAN, "volume", "inspect", "--format", "{{.Mountpoint}}",
      manifest.configMapName()).strip());
    Path data = dir.resolve(LocalDateTime.now().format(KUBELET_DIR));
    Files.createDirectory(data);
    Files.writeString(data.resolve(key), content);
    Path previous = Files.isSymbolicLink(dir.resolve("..data")) ? dir.resolve(Files.readSymbolicLink(dir.resolve("..data"))) : null;
    Path tmp = dir.resolve("..data_tmp");
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, data.getFileName());
    Files.move(tmp, dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    if (!Files.isSymbolicLink(dir.resolve(key))) {
      // podman wrote the key as a plain file at play time; kubelet's layout has a symlink, swapped in by rename too.
      Path link = dir.resolve(key + ".tmp-link");
      Files.deleteIfExists(link);
      Files.createSymbolicLink(link, Path.of("..data", key));
      Files.move(link, dir.resolve(key), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
    if (previous != null && !previous.equals(data)) {
      try (var old = Files.list(previous)) {
        for (Path f : old.toList()) {
          Files.delete(f);
        }
      }
      Files.delete(previous);
    }
  }

  /** Removes the pod (containers, infra, anonymous volumes such as the /tmp emptyDir) and the ConfigMap volume. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    Tools.Result pod = Podman.run(PODMAN, "pod", "rm", "--force", "--ignore", manifest.podName());
    Tools.Result volume = Podman.run(PODMAN, "volume", "rm", "--force", manifest.configMapName());
    String left = Podman.run(PODMAN, "ps", "--all", "--quiet", "--filter", "pod=" + manifest.podName()).output().strip();
    if (pod.exit() != 0 || (volume.exit() != 0 && !volume.output().contains("no such volume")) || !left.isEmpty()) {
      log.error("conn=- podman clean-up incomplete: pod rm exited {} ({}), volume rm exited {} ({}), containers left: {}",
        pod.exit(), pod.output().strip(), volume.exit(), volume.output().strip(), left);
    } else {
      log.info("conn=- podman: removed pod {} and volume {}", manifest.podName(), manifest.configMapName());
    }
    try {
      Files.deleteIfExists(yaml);
    } catch (IOException ignored) {
      // a temp file
    }
  }

  static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
