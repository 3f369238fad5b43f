/**
 * The words every room of Ferry shares: why a connection ended ({@link dev.ferry.vocabulary.CloseReason}), whom a
 * close blames ({@link dev.ferry.vocabulary.Side}), which way bytes travel ({@link dev.ferry.vocabulary.Direction}),
 * what a leak or double free was of ({@link dev.ferry.vocabulary.LeakKind}), and why the admin port closed one of its
 * connections or a listener failed an accept ({@link dev.ferry.vocabulary.AdminCloseCause},
 * {@link dev.ferry.vocabulary.AcceptErrorCause}). They drive log lines, metric labels and registry records alike.
 * <p>
 * The bottom package: it depends on nothing of Ferry's, so {@code metrics} and {@code registry} can both use it
 * without depending on each other.
 */
package dev.ferry.vocabulary;
