package dev.ferry;

import dev.ferry.config.EnvOverrides;
import dev.ferry.metrics.MetricNames;
import dev.ferry.vocabulary.CloseReason;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README states facts the code decides: the env mapping, the metric names, the close reasons. It,
 * docs/soak.md and docs/mutation.md link only to files and headings that exist.
 */
class ReadmeTest {

  private static final String README = read();

  private static String read() {
    try {
      return Files.readString(Path.of("README.md"));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void listsExactlyTheEnvironmentVariablesFerryReads() {
    Map<String, String> documented = new LinkedHashMap<>();
    Matcher m = Pattern.compile("(?m)^\\| `(FERRY_[A-Z_]+)` \\| `([a-z.\\-]+)` \\|").matcher(README);
    while (m.find()) {
      documented.put(m.group(1), m.group(2));
    }
    assertThat(documented).containsExactlyInAnyOrderEntriesOf(EnvOverrides.VARIABLES);
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
      assertThat(README).as("README mentions " + name).containsPattern("`" + Pattern.quote(name) + "(_total|_seconds)?[`{]");
    }
  }

  @Test
  void documentsEveryCloseReason() {
    for (CloseReason r : CloseReason.values()) {
      assertThat(README).as("README close reasons").contains("`" + r.name() + "`");
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
    for (String doc : new String[] {"README.md", "docs/soak.md", "docs/mutation.md", "k8s/README.md"}) {
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
