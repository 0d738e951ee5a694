/*
 * tests/tmpdir.h: the scratch directories of the test suites.
 */
#ifndef SIM_TESTS_TMPDIR_H
#define SIM_TESTS_TMPDIR_H

/* Removes the files in *@dir, then the directory; frees and clears
 * *@dir (NULL is allowed). */
void tests_tmpdir_remove(char **dir);

#endif /* SIM_TESTS_TMPDIR_H */
