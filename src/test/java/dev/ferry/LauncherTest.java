package dev.ferry;

import dev.ferry.support.Launcher;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * bin/ferry's decisions, seen through a stand-in {@code java} that prints the arguments it was given (and its PID:
 * the launcher must exec it). The real JVM and the real jar: {@link MainTest} and the podman pod test.
 */
class LauncherTest {

  private static final List<String> DEFAULTS = List.of("-XX:+UseSerialGC", "-Xms256m", "-Xmx256m",
    "-XX:MaxDirectMemorySize=128m", "-XX:+ExitOnOutOfMemoryError");
  private static final Duration QUICK = Duration.ofSeconds(30);

  @TempDir
  Path dir;

  /** What the stand-in java received, and the launcher's exit status and output. */
  record Run(int exit, long launcherPid, long javaPid, List<String> args, String output) {
  }

  @Test
  void execsJavaWithTheMeasuredDefaultsAndPassesTheArgumentsIntact() throws Exception {
    Path jar = Files.createFile(dir.resolve("my ferry.jar"));
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("17.0.9", null).toString(), "FERRY_JAR", jar.toString()),
      "--config", "a b.yaml");
    assertThat(r.exit()).as(r.output()).isZero();
    assertThat(r.javaPid()).as("java runs in the launcher's process (exec): signals reach it")
      .isEqualTo(r.launcherPid());
    assertThat(r.args()).isEqualTo(concat(DEFAULTS, List.of("-jar", jar.toString(), "--config", "a b.yaml")));
  }

  @Test
  void javaOptsReplaceEachSettingTheyGiveAsAWholeComeLastAndAreNeverGlobbed() throws Exception {
    Files.createFile(dir.resolve("-Xlog:gcX")); // a glob -Xlog:gc* would turn into this file's name
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("17.0.9", null).toString(), "FERRY_JAR", jar(),
      "JAVA_OPTS", "-XX:+UseG1GC  -Xmx1g -Xlog:gc* -Dx=1"));
    assertThat(r.args()).isEqualTo(List.of("-XX:MaxDirectMemorySize=128m", "-XX:+ExitOnOutOfMemoryError",
      "-XX:+UseG1GC", "-Xmx1g", "-Xlog:gc*", "-Dx=1", "-jar", jar()));
  }

  /** The JVM reads these itself, before the command line: a default there would silently win over them. */
  @ParameterizedTest
  @ValueSource(strings = {"JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS"})
  void aSettingInTheJvmsOwnOptionVariablesReplacesItsDefault(String variable) throws Exception {
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("21.0.2", null).toString(), "FERRY_JAR", jar(),
      variable, "-XX:MaxRAMPercentage=50 -XX:-ExitOnOutOfMemoryError -Dy=2"));
    assertThat(r.args()).isEqualTo(List.of("-XX:+UseSerialGC", "-XX:MaxDirectMemorySize=128m", "-jar", jar()));
  }

  /**
   * In the pod, JAVA_TOOL_OPTIONS sizes the heap by the container's memory limit. Had the launcher added its -Xmx,
   * the command line would have won and the limit would size nothing: so the pod's and the image's options must
   * give every setting the launcher has a default for, and the launcher must then add none.
   */
  @Test
  void thePodsAndTheImagesJavaToolOptionsGiveEverySettingSoTheLauncherAddsNone() throws Exception {
    String deployment = Files.readString(Path.of("k8s/deployment.yaml"));
    Matcher pod = Pattern.compile("- name: JAVA_TOOL_OPTIONS\\s+value: \"([^\"]+)\"").matcher(deployment);
    assertThat(pod.find()).as("JAVA_TOOL_OPTIONS in k8s/deployment.yaml").isTrue();
    Matcher image = Pattern.compile("(?m)^ENV JAVA_TOOL_OPTIONS=\"([^\"]+)\"")
      .matcher(Files.readString(Path.of("k8s/Dockerfile")));
    assertThat(image.find()).as("ENV JAVA_TOOL_OPTIONS in k8s/Dockerfile").isTrue();
    assertThat(image.group(1)).as("the image's options and the Deployment's").isEqualTo(pod.group(1));
    assertThat(pod.group(1)).contains("-XX:MaxRAMPercentage=").doesNotContain("-Xmx", "-Xms");

    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("17.0.15", null).toString(), "FERRY_JAR", jar(),
      "JAVA_TOOL_OPTIONS", pod.group(1)), "--config", "/etc/ferry/ferry.yaml");
    assertThat(r.args()).isEqualTo(List.of("-jar", jar(), "--config", "/etc/ferry/ferry.yaml"));
  }

  @Test
  void anEmptyFerryJvmDefaultsLeavesTheJvmItsOwnErgonomics() throws Exception {
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("17.0.9", null).toString(), "FERRY_JAR", jar(),
      "FERRY_JVM_DEFAULTS", ""));
    assertThat(r.args()).isEqualTo(List.of("-jar", jar()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"11.0.21", "1.8.0_392"})
  void refusesAJavaOlderThan17AndSaysWhichItFound(String version) throws Exception {
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk(version, null).toString(), "FERRY_JAR", jar()));
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.javaPid()).as("java was not started").isZero();
    assertThat(r.output()).contains("ferry: Java 17 or newer is needed;")
      .contains("is Java " + version + " (set JAVA_HOME");
  }

  @Test
  void readsTheVersionFromTheRuntimesReleaseFileFirst() throws Exception {
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("17.0.9", "11.0.2").toString(), "FERRY_JAR", jar()));
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("is Java 11.0.2");
    r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", fakeJdk("11.0.2", "17.0.15").toString(), "FERRY_JAR", jar()));
    assertThat(r.exit()).as(r.output()).isZero();
  }

  @Test
  void saysWhereNoJavaWasFound() throws Exception {
    Run r = run(Launcher.SCRIPT, Map.of("JAVA_HOME", dir.resolve("nowhere").toString(), "FERRY_JAR", jar()));
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("ferry: JAVA_HOME is " + dir.resolve("nowhere") + ", but "
      + dir.resolve("nowhere/bin/java") + " is not an executable file");

    // No JAVA_HOME, and a PATH with the tools the launcher uses but no java.
    Path tools = Files.createDirectories(dir.resolve("tools"));
    for (String tool : List.of("readlink", "sed", "dirname", "head")) {
      Path real = Path.of("/usr/bin", tool);
      Files.createSymbolicLink(tools.resolve(tool), Files.exists(real) ? real : Path.of("/bin", tool));
    }
    r = run(Launcher.SCRIPT, Map.of("PATH", tools.toString(), "FERRY_JAR", jar()));
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("ferry: java not found: install Java 17 or newer");
  }

  @Test
  void findsTheJarInstalledBesideItsBinDirectoryElseInASourceCheckoutsTarget() throws Exception {
    Map<String, String> env = Map.of("JAVA_HOME", fakeJdk("17.0.9", null).toString());
    // Installed, as in the image: /opt/ferry/bin/ferry and /opt/ferry/ferry.jar (an installed jar wins over target/).
    Path opt = layout("opt/ferry", "ferry.jar", "target/ferry.jar").toRealPath();
    assertThat(run(opt.resolve("bin/ferry"), env).args()).contains("-jar", opt.resolve("ferry.jar").toString());
    // Reached through a symbolic link elsewhere (/usr/local/bin/ferry -> /opt/ferry/bin/ferry): the same jar.
    Path link = Files.createSymbolicLink(Files.createDirectories(dir.resolve("usr/local/bin")).resolve("ferry"),
      opt.resolve("bin/ferry"));
    assertThat(run(link, env).args()).contains("-jar", opt.resolve("ferry.jar").toString());
    // A source checkout: bin/ferry and target/ferry.jar.
    Path src = layout("src", "target/ferry.jar").toRealPath();
    assertThat(run(src.resolve("bin/ferry"), env).args()).contains("-jar", src.resolve("target/ferry.jar").toString());
    // FERRY_JAR wins over both.
    assertThat(run(opt.resolve("bin/ferry"), Map.of("JAVA_HOME", env.get("JAVA_HOME"), "FERRY_JAR", jar())).args())
      .contains("-jar", jar());
  }

  @Test
  void saysHowToBuildTheJarWhenThereIsNone() throws Exception {
    Map<String, String> env = Map.of("JAVA_HOME", fakeJdk("17.0.9", null).toString());
    Path empty = layout("empty").toRealPath();
    Run r = run(empty.resolve("bin/ferry"), env);
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("ferry: no ferry.jar at " + empty.resolve("ferry.jar") + " (installed) or "
      + empty.resolve("target/ferry.jar") + " (source checkout)").contains("mvn -B -q package -DskipTests");
    r = run(empty.resolve("bin/ferry"), Map.of("JAVA_HOME", env.get("JAVA_HOME"), "FERRY_JAR", "/no/such.jar"));
    assertThat(r.exit()).isEqualTo(1);
    assertThat(r.output()).contains("ferry: FERRY_JAR is /no/such.jar, but there is no such file");
  }

  // --- helpers ----------------------------------------------------------------------------------------------------

  private String jar() throws IOException {
    Path jar = dir.resolve("ferry.jar");
    if (!Files.exists(jar)) {
      Files.createFile(jar);
    }
    return jar.toString();
  }

  /**
   * A stand-in Java runtime: {@code bin/java -version} prints {@code version} the way OpenJDK does; any other call
   * prints its PID and its arguments, one per line. With {@code release}, a release file says that version.
   */
  private Path fakeJdk(String version, String release) throws IOException {
    Path home = Files.createTempDirectory(dir, "jdk");
    Path java = Files.createDirectories(home.resolve("bin")).resolve("java");
    Files.writeString(java, "#!/bin/sh\n"
      + "if [ \"$1\" = -version ]; then echo 'openjdk version \"" + version + "\" 2024-01-16' >&2; exit 0; fi\n"
      + "echo \"pid=$$\"\n"
      + "for a in \"$@\"; do printf 'arg=%s\\n' \"$a\"; done\n");
    Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwxr-xr-x"));
    if (release != null) {
      Files.writeString(home.resolve("release"), "IMPLEMENTOR=\"Test\"\nJAVA_VERSION=\"" + release + "\"\n");
    }
    return home;
  }

  /** {@code root}/bin/ferry, a copy of the launcher, and the named (empty) files under {@code root}. */
  private Path layout(String root, String... files) throws IOException {
    Path home = Files.createDirectories(dir.resolve(root));
    Path script = Files.createDirectories(home.resolve("bin")).resolve("ferry");
    Files.copy(Launcher.SCRIPT, script);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    for (String f : files) {
      Files.createDirectories(home.resolve(f).getParent());
      Files.createFile(home.resolve(f));
    }
    return home;
  }

  private Run run(Path script, Map<String, String> env, String... args) throws Exception {
    try (Launcher l = Launcher.start(script, dir, env, args)) {
      int exit = l.waitFor(QUICK);
      long javaPid = 0;
      List<String> got = new ArrayList<>();
      for (String line : l.output()) {
        if (line.startsWith("pid=")) {
          javaPid = Long.parseLong(line.substring(4));
        } else if (line.startsWith("arg=")) {
          got.add(line.substring(4));
        }
      }
      return new Run(exit, l.pid(), javaPid, got, String.join("\n", l.output()));
    }
  }

  private static List<String> concat(List<String> a, List<String> b) {
    List<String> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}
