package dev.ferry;

import dev.ferry.config.BalanceAlgorithm;
import dev.ferry.config.ConfigLoader;
import dev.ferry.config.EnvOverrides;
import dev.ferry.config.FerryOptions;
import dev.ferry.metrics.MetricNames;
import dev.ferry.vocabulary.CloseReason;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The documents state facts the code decides. The README keeps what a user needs first: its run command, its
 * configuration example (which loads), and links to the reference; docs/configuration.md has the env mapping,
 * docs/metrics.md the metric names and the close reasons. Every document links only to files and headings that
 * exist.
 */
class ReadmeTest {

  private static final String README = read("README.md");
  /** The configuration reference: every key, every FERRY_* variable. */
  private static final String CONFIGURATION = read("docs/configuration.md");
  /** The metrics table, the close reasons and the access-log line. */
  private static final String METRICS = read("docs/metrics.md");

  private static String read(String path) {
    try {
      return Files.readString(Path.of(path));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void listsExactlyTheEnvironmentVariablesFerryReads() {
    Map<String, String> documented = new LinkedHashMap<>();
    Matcher m = Pattern.compile("(?m)^\\| `(FERRY_[A-Z_]+)` \\| `([a-z.\\-]+)` \\|")
      .matcher(section(CONFIGURATION, "Environment variables"));
    while (m.find()) {
      documented.put(m.group(1), m.group(2));
    }
    assertThat(documented).containsExactlyInAnyOrderEntriesOf(EnvOverrides.VARIABLES);
  }

  /** A variable the README names is one Ferry reads, FERRY_CONFIG, or one bin/ferry reads. */
  @Test
  void theReadmeNamesOnlyVariablesThatAreRead() throws IOException {
    String launcher = Files.readString(Path.of("bin/ferry"));
    Matcher m = Pattern.compile("FERRY_[A-Z_]*[A-Z]").matcher(README);
    int named = 0;
    while (m.find()) {
      named++;
      String name = m.group();
      assertThat(EnvOverrides.VARIABLES.containsKey(name) || name.equals(EnvOverrides.CONFIG_VARIABLE)
        || launcher.contains("${" + name)).as("README names %s", name).isTrue();
    }
    assertThat(named).isPositive();
  }

  /** The README's configuration example is a file Ferry loads, with the upstreams and balance it shows. */
  @Test
  void theReadmesConfigurationExampleLoads(@TempDir Path dir) throws IOException {
    Matcher yaml = Pattern.compile("(?s)```yaml\n(.*?)```").matcher(section(README, "Configuration"));
    assertThat(yaml.find()).as("a yaml example under the README's Configuration").isTrue();
    Path file = Files.writeString(dir.resolve("example.yaml"), yaml.group(1));
    FerryOptions options = ConfigLoader.loadBlocking(file.toString(), Map.of());
    assertThat(options.routes()).hasSize(1);
    assertThat(options.routes().get(0).pool().upstreams()).hasSize(2);
    assertThat(options.routes().get(0).pool().balance()).isEqualTo(BalanceAlgorithm.LEAST_CONNECTIONS);
  }

  /** What left the README is one link away from it. */
  @Test
  void theReadmeLinksTheReferenceThatLeftIt() {
    for (String doc : new String[] {"docs/configuration.md", "docs/metrics.md", "docs/admin.md", "conf/ferry.yaml"}) {
      assertThat(README).contains("](" + doc + ")");
    }
  }

  @Test
  void documentsEveryFerryMetricByItsPrometheusName() throws IllegalAccessException {
    Set<String> names = new TreeSet<>();
    for (Field f : MetricNames.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && !f.getName().startsWith("TAG_")) {
        names.add(((String) f.get(null)).replace('.', '_'));
      }
    }
    for (String name : names) {
      assertThat(section(METRICS, "Metrics (`GET :9900/metrics`)")).as("docs/metrics.md's table lists " + name).containsPattern("`" + Pattern.quote(name) + "(_total|_seconds)?[`{]");
    }
  }

  @Test
  void documentsEveryCloseReason() {
    for (CloseReason r : CloseReason.values()) {
      assertThat(section(METRICS, "Close reasons")).as("docs/metrics.md's close reasons")
        .containsPattern("(?m)^\\| (`[A-Z_]+` / )?`" + r.name() + "`( / `[A-Z_]+`)? \\| ");
    }
  }

  /** "Run it" starts Ferry with bin/ferry, and its example start-up line shows the launcher's own defaults. */
  @Test
  void runsFerryWithTheLauncherAndShowsItsDefaults() throws IOException {
    assertThat(README).contains("\n    mvn -B -q package -DskipTests && bin/ferry\n");
    Matcher defaults = Pattern.compile("(?m)^builtin_defaults='([^']+)'$").matcher(Files.readString(Path.of("bin/ferry")));
    assertThat(defaults.find()).as("builtin_defaults in bin/ferry").isTrue();
    assertThat(README).as("the README's example start-up line").contains("command line:\n        " + defaults.group(1) + "\n");
  }

  @Test
  void relativeLinksPointToFilesAndHeadingsThatExist() throws IOException {
    List<String> docs = new ArrayList<>(List.of("README.md", "k8s/README.md"));
    try (var files = Files.list(Path.of("docs"))) {
      files.map(Path::toString).filter(f -> f.endsWith(".md")).sorted().forEach(docs::add);
    }
    assertThat(docs).contains("docs/configuration.md", "docs/metrics.md", "docs/admin.md", "docs/soak.md",
      "docs/mutation.md");
    for (String doc : docs) {
      Path from = Path.of(doc);
      Matcher link = Pattern.compile("\\]\\(([^)\\s]+)\\)").matcher(Files.readString(from));
      int relative = 0;
      while (link.find()) {
        String target = link.group(1);
        if (target.matches("[a-z]+:.*")) {
          continue;
        }
        relative++;
        int hash = target.indexOf('#');
        Path file = hash == 0 ? from : from.resolveSibling(hash < 0 ? target : target.substring(0, hash)).normalize();
        assertThat(file).as("%s links %s", doc, target).exists();
        if (hash >= 0) {
          assertThat(headingAnchors(Files.readString(file))).as("headings of %s, linked from %s", file, doc)
            .contains(target.substring(hash + 1));
        }
      }
      assertThat(relative).as("relative links in %s", doc).isPositive();
    }
  }

  /** The text under a heading (any level) up to the next heading of the same or a higher level. */
  private static String section(String markdown, String heading) {
    Matcher start = Pattern.compile("(?m)^(#+) " + Pattern.quote(heading) + "$").matcher(markdown);
    assertThat(start.find()).as("a heading '%s'", heading).isTrue();
    Matcher end = Pattern.compile("(?m)^#{1," + start.group(1).length() + "} ").matcher(markdown);
    return markdown.substring(start.end(), end.find(start.end()) ? end.start() : markdown.length());
  }

  /** GitHub's anchors: a heading in lower case, punctuation other than '-' dropped, spaces as '-'. */
  private static Set<String> headingAnchors(String markdown) {
    Set<String> anchors = new TreeSet<>();
    Matcher heading = Pattern.compile("(?m)^#+ (.+)$").matcher(markdown);
    while (heading.find()) {
      anchors.add(heading.group(1).trim().toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9 _-]", "")
        .replace(' ', '-'));
    }
    return anchors;
  }
}
