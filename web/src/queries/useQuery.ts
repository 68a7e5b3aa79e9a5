import { useCallback, useEffect, useState } from "react";

export interface Query<T> {
  data: T | undefined;
  error: Error | null;
  loading: boolean;
  /** How many loads have succeeded: a key that changes when fresh data arrives. */
  loads: number;
  reload: () => void;
}

/** Run ``load`` when ``key`` changes; ``reload`` runs it again. The last answer wins. */
export function useQuery<T>(load: () => Promise<T>, key: string): Query<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<Error | null>(null);
  const [loading, setLoading] = useState(true);
  const [loads, setLoads] = useState(0);
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    let current = true;
    setLoading(true);
    load().then(
      (value) => {
        if (!current) return;
        setData(value);
        setLoads((n) => n + 1);
        setError(null);
        setLoading(false);
      },
      (caught: unknown) => {
        if (!current) return;
        setError(caught instanceof Error ? caught : new Error(String(caught)));
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- ``key`` names what ``load`` reads
  }, [key, generation]);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, loads, reload };
}
