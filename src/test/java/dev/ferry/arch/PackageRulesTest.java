package dev.ferry.arch;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideOutsideOfPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * How Ferry's packages may depend on each other. {@code dev.ferry} itself ({@code Main}, {@code Ferry}) is the
 * composition root that wires everything; below it, {@code vocabulary} and {@code config} are the bottom.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = ImportOption.DoNotIncludeTests.class)
class PackageRulesTest {

  /** Vert.x API outside its compatibility promise. */
  static final String[] VERTX_INTERNALS = {"io.vertx.core.internal..", "io.vertx.core.spi..", "io.vertx..impl.."};
  static final String VERTX_INTERNALS_CLASS = "dev.ferry.proxy.VertxInternals";

  @ArchTest
  static final ArchRule noPackageCycles = slices().matching("dev.ferry.(*)..").namingSlices("dev.ferry.$1")
    .should().beFreeOfCycles()
    .as("Ferry's packages (dev.ferry.*) form no dependency cycle")
    .because("a cycle makes two packages one: neither can be understood, tested or changed alone");

  @ArchTest
  static final ArchRule onlyTheRootDependsOnTheRoot = noClasses()
    .that().resideOutsideOfPackage("dev.ferry")
    .should().dependOnClassesThat().resideInAPackage("dev.ferry")
    .as("No package depends on dev.ferry itself (Main, Ferry)")
    .because("the composition root wires every package; a package that reaches back into it forms a cycle the slice "
      + "rule cannot see (the root is in no slice)");

  @ArchTest
  static final ArchRule vocabularyDependsOnNothingOfFerrys = noClasses()
    .that().resideInAPackage("dev.ferry.vocabulary..")
    .should().dependOnClassesThat(resideInAPackage("dev.ferry..").and(resideOutsideOfPackage("dev.ferry.vocabulary..")))
    .as("dev.ferry.vocabulary depends on nothing of Ferry's")
    .because("it is the shared bottom (CloseReason, Side, Direction, LeakKind) that every other package may use");

  @ArchTest
  static final ArchRule configDependsOnNothingOfFerrys = noClasses()
    .that().resideInAPackage("dev.ferry.config..")
    .should().dependOnClassesThat(resideInAPackage("dev.ferry..").and(resideOutsideOfPackage("dev.ferry.config..")))
    .as("dev.ferry.config depends on nothing of Ferry's, not even dev.ferry.vocabulary")
    .because("options are read and validated before anything runs (a bad file exits with status 2 before a socket "
      + "opens), so they need no runtime vocabulary; today they use none, and keeping it so keeps config loadable alone");

  @ArchTest
  static final ArchRule registryDoesNotDependOnProxy = noClasses()
    .that().resideInAPackage("dev.ferry.registry..")
    .should().dependOnClassesThat().resideInAPackage("dev.ferry.proxy..")
    .as("dev.ferry.registry does not depend on dev.ferry.proxy")
    .because("the registry decides from messages (close requests, acks) and knows no socket: the proxy depends on it, "
      + "never the reverse");

  @ArchTest
  static final ArchRule metricsDoesNotDependOnRegistryOrProxy = noClasses()
    .that().resideInAPackage("dev.ferry.metrics..")
    .should().dependOnClassesThat().resideInAnyPackage("dev.ferry.registry..", "dev.ferry.proxy..")
    .as("dev.ferry.metrics depends on neither dev.ferry.registry nor dev.ferry.proxy")
    .because("both count through metrics; metrics labels with the vocabulary only");

  @ArchTest
  static final ArchRule vertxInternalsStayInOneClass = noClasses()
    .that().doNotHaveFullyQualifiedName(VERTX_INTERNALS_CLASS)
    .should().dependOnClassesThat().resideInAnyPackage(VERTX_INTERNALS)
    .as("Only dev.ferry.proxy.VertxInternals uses Vert.x internal API (io.vertx.core.internal, io.vertx.core.spi, "
      + "io.vertx..impl)")
    .because("that API has no compatibility promise: on a Vert.x upgrade, VertxInternals is the one class to re-check");
}
