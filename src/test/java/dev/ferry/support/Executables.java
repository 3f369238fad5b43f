package dev.ferry.support;

import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Real programs the tests run beside Ferry (HAProxy, nginx, promtool...), from Debian packages that {@code .ci/run}
 * installs. A missing one skips the test on a developer machine and fails it in CI ({@code CI=true}), where it must
 * have been installed.
 */
public final class Executables {

  private static final String[] DIRECTORIES = {"/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"};

  private Executables() {
  }

  /** The path of {@code name}, or a skip (a failure in CI) naming the Debian package that provides it. */
  public static Path require(String name, String debianPackage) {
    for (String dir : DIRECTORIES) {
      Path p = Path.of(dir, name);
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    String why = name + " not found: install the Debian package '" + debianPackage + "' (.ci/run does)";
    if ("true".equalsIgnoreCase(System.getenv("CI"))) {
      throw new AssertionError(why);
    }
    Assumptions.abort(why);
    return null;
  }
}
