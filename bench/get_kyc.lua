-- wrk script: GET /api/identity/kyc/{id} with the bench key.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KENALI_BENCH_KEY")
