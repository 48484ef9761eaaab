package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
)

// bigreview: a compact AdmissionReview (admission.k8s.io/v1, Pod CREATE)
// whose Pod has N containers, each breaking many rules of the contract
// (root user and group, privileged, escalation allowed, image :latest, a
// literal password in env, no probes, no resources, writable root,
// capabilities kept). About 175 bytes a container: 6,000 make about
// 1 MiB, 14,000 about 2.3 MiB. Never over -max-bytes (the
// webhook's 3 MiB body limit): -fill picks the most containers that fit.

const bigReviewHead = `{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":%q,` +
	`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},` +
	`"namespace":"bench","operation":"CREATE","userInfo":{"username":"system:serviceaccount:bench:deployer"},` +
	`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"big","namespace":"bench","labels":{"app":"big"}},` +
	`"spec":{"containers":[`

const bigReviewTail = `]}},"dryRun":false}}`

// bigContainer is container i; every container breaks the same rules.
func bigContainer(i int) string {
	return `{"name":"c` + strconv.Itoa(i) + `","image":"nginx:latest",` +
		`"env":[{"name":"DB_PASSWORD","value":"hunter2-Passw0rd-` + strconv.Itoa(i) + `"}],` +
		`"securityContext":{"runAsUser":0,"runAsGroup":0,"privileged":true,"allowPrivilegeEscalation":true}}`
}

func runBigReview(_ context.Context, args []string) (any, error) {
	fs := newFlags("bigreview")
	containers := fs.Int("containers", 6000, "containers in the Pod")
	fill := fs.Int("fill", 0, "when > 0: as many containers as fit in this many bytes (overrides -containers)")
	uid := fs.String("uid", "u1", "the review's request.uid")
	maxBytes := fs.Int("max-bytes", 3145728, "refuse to write a larger review")
	fs.Parse(args)
	head := fmt.Sprintf(bigReviewHead, *uid)
	limit := *maxBytes
	if *fill > 0 && *fill < limit {
		limit = *fill
	}
	// Count first: the review must fit, and -fill needs the count.
	size, n := len(head)+len(bigReviewTail), 0
	for ; *fill > 0 || n < *containers; n++ {
		add := len(bigContainer(n))
		if n > 0 {
			add++ // the comma
		}
		if size+add > limit {
			break
		}
		size += add
	}
	if n == 0 || (*fill == 0 && n < *containers) {
		return nil, fmt.Errorf("%d containers do not fit in %d bytes", *containers, limit)
	}
	w := bufio.NewWriterSize(os.Stdout, 1<<16)
	w.WriteString(head)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(bigContainer(i))
	}
	w.WriteString(bigReviewTail)
	if err := w.Flush(); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "bigreview: %d containers, %d bytes\n", n, size)
	return nil, nil
}
