// Majority vote over the answers of several samples (self-consistency: Wang et al. 2022,
// arXiv:2203.11171): the answer given most often wins. Answers come from extractAnswer()
// (src/decode/answers.ts), already normalized, so equal strings are equal answers; a sample without an
// answer (null) abstains but still counts in the total, so the share says how many of all samples agreed.
//
// Ties go to the answer that some sample gave first (lowest sample index): deterministic, and with seeds
// seed, seed + 1, ... the same run always picks the same winner.

export interface VoteCount {
  answer: string;
  votes: number;
  /** Index of the first sample that gave it. */
  first: number;
}

export interface VoteResult {
  /** The winning answer; null when no sample gave one. */
  answer: string | null;
  /** Samples that gave the winning answer (0 when there is none). */
  votes: number;
  /** Samples voting, abstentions included. */
  total: number;
  /** Every answer given, most votes first (ties: first given first). */
  tally: VoteCount[];
  /** Samples that gave no answer. */
  abstained: number;
}

export function majorityVote(answers: readonly (string | null)[]): VoteResult {
  const counts = new Map<string, VoteCount>();
  answers.forEach((answer, i) => {
    if (answer === null) return;
    const c = counts.get(answer);
    if (c) c.votes++;
    else counts.set(answer, { answer, votes: 1, first: i });
  });
  const tally = [...counts.values()].sort((a, b) => b.votes - a.votes || a.first - b.first);
  const winner = tally[0];
  return {
    answer: winner?.answer ?? null,
    votes: winner?.votes ?? 0,
    total: answers.length,
    tally,
    abstained: answers.filter((a) => a === null).length,
  };
}

/** "3/5": the winning answer's votes over all samples. */
export function voteShare(v: VoteResult): string {
  return `${v.votes}/${v.total}`;
}
