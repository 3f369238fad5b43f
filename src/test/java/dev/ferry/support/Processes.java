package dev.ferry.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** What the tests' wrappers of real peers (HAProxy, nginx) share about the process they run. */
final class Processes {

  private Processes() {
  }

  /** Whether the kernel lists a listening socket on 127.0.0.1:{@code port}, while {@code process} lives. */
  static boolean listening(int port, Process process) {
    if (!process.isAlive()) {
      throw new AssertionError("the process exited with " + process.exitValue());
    }
    String local = String.format("0100007F:%04X", port);
    try {
      // /proc/net/tcp: "sl local_address rem_address st ..."; 0100007F is 127.0.0.1, st 0A is LISTEN.
      return Files.readAllLines(Path.of("/proc/net/tcp")).stream()
        .map(l -> l.trim().split("\\s+"))
        .anyMatch(f -> f.length > 3 && f[1].equals(local) && f[3].equals("0A"));
    } catch (IOException e) {
      return false;
    }
  }

  /** SIGTERM, then SIGKILL after 5 s; each wait bounded. */
  static void stop(Process process) {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
