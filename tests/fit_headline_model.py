#!/usr/bin/env python3
"""fit_headline_model.py - fits the event stage's headline model (docs/events.md).

Reads the pairs written by `build/tests/tune_events SHARED headlines PAIRS.tsv`
(corpus, label, title, body, names, pivot, gap_days, other_lang) and fits a
logistic regression by Newton's method, each corpus weighted equally, on the
features of nf_events_options.headline_model: intercept, max(title, body),
names, pivot, pivot x other language, ln(1 + hours), other language.
Prints the coefficients and per-corpus decisions at p >= 0.5.
usage: tests/fit_headline_model.py PAIRS.tsv
"""
import sys, math
rows=[l.rstrip('\n').split('\t') for l in open(sys.argv[1])][1:]
X=[];y=[];w=[]
cnt={}
for r in rows: cnt[r[0]]=cnt.get(r[0],0)+1
for r in rows:
    t,b,n,p,g,o=map(float,r[2:8])
    X.append([1.0,max(t,b),n,p,p*o,math.log1p(24*g),o]); y.append(int(r[1])); w.append(1.0/cnt[r[0]])
d=len(X[0]); beta=[0.0]*d
for it in range(30):
    g=[0.0]*d; H=[[0.0]*d for _ in range(d)]
    for xi,yi,wi in zip(X,y,w):
        z=sum(a*b for a,b in zip(beta,xi)); pz=1/(1+math.exp(-max(-30,min(30,z))))
        for j in range(d):
            g[j]+=wi*(yi-pz)*xi[j]
            for k in range(d): H[j][k]+=wi*pz*(1-pz)*xi[j]*xi[k]
    for j in range(d): H[j][j]+=1e-6
    # solve H delta = g
    A=[H[j][:]+[g[j]] for j in range(d)]
    for c in range(d):
        piv=max(range(c,d),key=lambda r:abs(A[r][c])); A[c],A[piv]=A[piv],A[c]
        for r in range(d):
            if r!=c:
                f=A[r][c]/A[c][c]
                for k in range(c,d+1): A[r][k]-=f*A[c][k]
    delta=[A[j][d]/A[j][j] for j in range(d)]
    beta=[a+b for a,b in zip(beta,delta)]
    if max(abs(x) for x in delta)<1e-8: break
print("beta", ", ".join("%.3f"%b for b in beta))
for c in cnt:
    tp=fp=fn=0
    for r,xi,yi in zip(rows,X,y):
        if r[0]!=c: continue
        pz=1/(1+math.exp(-sum(a*b for a,b in zip(beta,xi))))
        if pz>=0.5 and yi: tp+=1
        elif pz>=0.5: fp+=1
        elif yi: fn+=1
    print(c, "pos", sum(yi for r,yi in zip(rows,y) if r[0]==c), "tp fp fn", tp, fp, fn)
